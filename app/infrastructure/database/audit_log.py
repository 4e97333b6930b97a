"""`AdminAuditLog` on SQLAlchemy, beside the finished books; blocking work in a thread."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Engine, and_, or_, select
from sqlalchemy.exc import IntegrityError

from app.application.ports.audit import AdminAuditLog, AuditPage
from app.domain.audit import AdminAction, AuditEntry
from app.domain.values import UserId
from app.infrastructure.database.engine import SqlAdapter
from app.infrastructure.database.models import AdminActionRow
from app.infrastructure.database.repository import ShelfPosition, decode_cursor, encode_cursor


class SqlAdminAuditLog(SqlAdapter, AdminAuditLog):
    def __init__(self, engine: Engine, *, deadline: float = 2.5) -> None:
        super().__init__(engine, deadline=deadline, what="the audit log's")

    async def record(self, entry: AuditEntry) -> None:
        await self._in_thread(self._record, entry)

    async def entries(self, limit: int, cursor: str | None) -> AuditPage:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        # The same cursor as the shelf's: a time and an id.
        after = None if cursor is None else decode_cursor(cursor)
        return await self._in_thread(self._entries, limit, after)

    def _record(self, entry: AuditEntry) -> None:
        try:
            with self._sessions.begin() as session:
                session.add(
                    AdminActionRow(
                        id=str(entry.id),
                        at=entry.at,
                        admin_id=entry.admin_id.value,
                        action=entry.action.value,
                        user_id=None if entry.user_id is None else entry.user_id.value,
                        book_id=None if entry.book_id is None else str(entry.book_id),
                        detail=dict(entry.detail),
                    )
                )
        except IntegrityError:
            if self._exists(entry.id):
                return  # an earlier try of the same write stored it
            raise

    def _exists(self, entry_id: UUID) -> bool:
        with self._sessions() as session:
            return session.get(AdminActionRow, str(entry_id)) is not None

    def _entries(self, limit: int, after: ShelfPosition | None) -> AuditPage:
        query = select(AdminActionRow)
        if after is not None:
            query = query.where(
                or_(
                    AdminActionRow.at < after.finished_at,
                    and_(AdminActionRow.at == after.finished_at, AdminActionRow.id < str(after.id)),
                )
            )
        query = query.order_by(AdminActionRow.at.desc(), AdminActionRow.id.desc()).limit(limit + 1)
        with self._sessions() as session:
            rows = list(session.scalars(query))
        items = [_entry(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(ShelfPosition(items[-1].at, items[-1].id))
        return AuditPage(items, next_cursor)


def _entry(row: AdminActionRow) -> AuditEntry:
    return AuditEntry(
        id=UUID(row.id),
        at=row.at,
        admin_id=UserId(row.admin_id),
        action=AdminAction(row.action),
        user_id=None if row.user_id is None else UserId(row.user_id),
        book_id=None if row.book_id is None else UUID(row.book_id),
        detail=dict(row.detail),
    )
