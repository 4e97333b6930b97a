"""`ShareLinkRepository` on SQLAlchemy, beside the finished books; blocking work in a thread."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from app.application.errors import BookNotFound
from app.application.ports.sharing import ShareLinkRepository
from app.domain.sharing import ShareLink
from app.infrastructure.database.engine import SqlAdapter
from app.infrastructure.database.models import ShareLinkRow


class SqlShareLinkRepository(SqlAdapter, ShareLinkRepository):
    def __init__(self, engine: Engine, *, deadline: float = 2.5) -> None:
        super().__init__(engine, deadline=deadline, what="the share-link")

    async def active(self, book_id: UUID, now: datetime) -> ShareLink | None:
        link = await self._in_thread(self._of_book, book_id)
        return link if link is not None and link.active_at(now) else None

    async def add(self, link: ShareLink, token_digest: str, now: datetime) -> ShareLink:
        return await self._in_thread(self._add, link, token_digest, now)

    async def revoke(self, book_id: UUID) -> bool:
        return await self._in_thread(self._revoke, book_id)

    async def find(self, token_digest: str) -> ShareLink | None:
        return await self._in_thread(self._find, token_digest)

    def _of_book(self, book_id: UUID) -> ShareLink | None:
        with self._sessions() as session:
            row = session.scalars(
                select(ShareLinkRow).where(ShareLinkRow.book_id == str(book_id))
            ).first()
            return None if row is None else _link(row)

    def _add(self, link: ShareLink, token_digest: str, now: datetime) -> ShareLink:
        try:
            with self._sessions.begin() as session:
                current = session.scalars(
                    select(ShareLinkRow).where(ShareLinkRow.book_id == str(link.book_id))
                ).first()
                if current is not None and _link(current).active_at(now):
                    return _link(current)
                if current is not None:  # expired: the new link takes its place
                    session.delete(current)
                    session.flush()
                session.add(
                    ShareLinkRow(
                        id=str(link.id),
                        book_id=str(link.book_id),
                        token_digest=token_digest,
                        created_at=link.created_at,
                        expires_at=link.expires_at,
                    )
                )
        except IntegrityError:
            # Another request made the book's link first (one row per book): that one stands.
            # None at all: the foreign key refused it, the book was deleted meanwhile.
            winner = self._of_book(link.book_id)
            if winner is None:
                raise BookNotFound("no such book") from None
            return winner
        return link

    def _revoke(self, book_id: UUID) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                delete(ShareLinkRow).where(ShareLinkRow.book_id == str(book_id))
            )
            return result.rowcount > 0

    def _find(self, token_digest: str) -> ShareLink | None:
        with self._sessions() as session:
            row = session.scalars(
                select(ShareLinkRow).where(ShareLinkRow.token_digest == token_digest)
            ).first()
            return None if row is None else _link(row)


def _link(row: ShareLinkRow) -> ShareLink:
    return ShareLink(
        id=UUID(row.id),
        book_id=UUID(row.book_id),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )
