"""`FinishedBookRepository` on SQLAlchemy; blocking work runs in a worker thread."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, and_, delete, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.application.errors import InvalidCursor
from app.application.ports.stores import (
    CURSOR_PATTERN,
    FinishedBookPage,
    FinishedBookRepository,
    UsageTotals,
)
from app.domain.finished import FinishedBook, FinishedBookSummary, FinishedBy, FinishedPage
from app.domain.values import BookSpec, Character, Language, Title, Usage, UserId
from app.infrastructure.database.engine import SqlAdapter, database_errors
from app.infrastructure.database.models import BookRow, PageRow


class SqlFinishedBookRepository(SqlAdapter, FinishedBookRepository):
    def __init__(self, engine: Engine, *, deadline: float = 2.5) -> None:
        super().__init__(engine, deadline=deadline, what="the finished-book")

    async def add(self, book: FinishedBook) -> FinishedBook:
        return await self._in_thread(self._add, book)

    async def get(self, book_id: UUID) -> FinishedBook | None:
        return await self._in_thread(self._get, book_id)

    async def list_for_user(
        self, user_id: UserId, limit: int, cursor: str | None
    ) -> FinishedBookPage:
        return await self.list_finished(user_id, limit, cursor)

    async def list_finished(
        self, user_id: UserId | None, limit: int, cursor: str | None
    ) -> FinishedBookPage:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        after = None if cursor is None else decode_cursor(cursor)
        return await self._in_thread(self._list_finished, user_id, limit, after)

    async def usage_between(self, start: datetime, end: datetime) -> UsageTotals:
        return await self._in_thread(self._usage_between, start, end)

    async def delete(self, book_id: UUID) -> bool:
        return await self._in_thread(self._delete, book_id)

    async def existing_ids(self, book_ids: Collection[UUID]) -> set[UUID]:
        # Chunk after chunk for `littlewriter reconcile`: the driver's timeouts, no deadline.
        with database_errors():
            return await asyncio.to_thread(self._existing_ids, list(book_ids))

    async def ping(self) -> None:
        await self._in_thread(self._ping)

    def _existing_ids(self, book_ids: list[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        with self._sessions() as session:
            for start in range(0, len(book_ids), 500):
                chunk = [str(book_id) for book_id in book_ids[start : start + 500]]
                rows = session.scalars(select(BookRow.id).where(BookRow.id.in_(chunk)))
                found.update(UUID(row) for row in rows)
        return found

    def _add(self, book: FinishedBook) -> FinishedBook:
        try:
            with self._sessions.begin() as session:
                session.add(_to_row(book))
        except IntegrityError:
            # The id is the primary key: an earlier try of the same finish stored it first.
            stored = self._get(book.id)
            if stored is None:
                raise
            return stored
        return book

    def _get(self, book_id: UUID) -> FinishedBook | None:
        with self._sessions() as session:
            row = session.get(BookRow, str(book_id), options=[selectinload(BookRow.pages)])
            return None if row is None else _to_domain(row)

    def _list_finished(
        self, user_id: UserId | None, limit: int, after: ShelfPosition | None
    ) -> FinishedBookPage:
        query = select(
            BookRow.id,
            BookRow.user_id,
            BookRow.title,
            BookRow.cover_key,
            BookRow.page_count,
            BookRow.finished_at,
            BookRow.language,
            BookRow.finished_by,
            BookRow.tokens_in,
            BookRow.tokens_out,
            BookRow.images_generated,
        )
        if user_id is not None:
            query = query.where(BookRow.user_id == user_id.value)
        if after is not None:
            # Keyset: strictly after the last book shown in (finished_at DESC, id DESC) order.
            query = query.where(
                or_(
                    BookRow.finished_at < after.finished_at,
                    and_(BookRow.finished_at == after.finished_at, BookRow.id < str(after.id)),
                )
            )
        query = query.order_by(BookRow.finished_at.desc(), BookRow.id.desc()).limit(limit + 1)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        items = [
            FinishedBookSummary(
                id=UUID(row.id),
                user_id=UserId(row.user_id),
                title=Title(row.title),
                cover_key=row.cover_key,
                page_count=row.page_count,
                finished_at=row.finished_at,
                language=Language(row.language),
                finished_by=FinishedBy(row.finished_by),
                usage=Usage(row.tokens_in, row.tokens_out, row.images_generated),
            )
            for row in rows[:limit]
        ]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(ShelfPosition(last.finished_at, last.id))
        return FinishedBookPage(items=items, next_cursor=next_cursor)

    def _usage_between(self, start: datetime, end: datetime) -> UsageTotals:
        query = select(
            func.count(BookRow.id),
            func.coalesce(func.sum(BookRow.tokens_in), 0),
            func.coalesce(func.sum(BookRow.tokens_out), 0),
            func.coalesce(func.sum(BookRow.images_generated), 0),
        ).where(BookRow.finished_at >= start, BookRow.finished_at < end)
        with self._engine.connect() as connection:
            books, tokens_in, tokens_out, images = connection.execute(query).one()
        # MySQL's SUM is a DECIMAL: whole numbers all the same.
        return UsageTotals(int(books), Usage(int(tokens_in), int(tokens_out), int(images)))

    def _delete(self, book_id: UUID) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(delete(BookRow).where(BookRow.id == str(book_id)))
            return result.rowcount > 0

    def _ping(self) -> None:
        with self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))


@dataclass(frozen=True, slots=True)
class ShelfPosition:
    """Where a page of the shelf ended: the last book's sort key."""

    finished_at: datetime
    id: UUID


_CURSOR_ALPHABET = re.compile(CURSOR_PATTERN)


# What MySQL's DATETIME holds (1000-9999), less a year on each side for time zones.
_CURSOR_YEARS = (1001, 9998)


_NOT_OURS = "This cursor is not one the service handed out; ask for the first page without one."


def encode_cursor(position: ShelfPosition) -> str:
    payload = {"f": position.finished_at.astimezone(UTC).isoformat(), "i": str(position.id)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> ShelfPosition:
    """Read a cursor from `encode_cursor`; anything else raises `InvalidCursor`."""
    if not isinstance(cursor, str) or not _CURSOR_ALPHABET.fullmatch(cursor):
        raise InvalidCursor(_NOT_OURS)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload: Any = json.loads(raw)
        finished_at, book_id = payload["f"], payload["i"]
        if not isinstance(finished_at, str) or not isinstance(book_id, str):
            raise TypeError("cursor fields must be strings")
        when = datetime.fromisoformat(finished_at)
        if when.tzinfo is None:
            raise ValueError("a cursor's time has its offset")
        position = ShelfPosition(when.astimezone(UTC), UUID(book_id))
    except (binascii.Error, ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        raise InvalidCursor(_NOT_OURS) from error
    if not _CURSOR_YEARS[0] <= position.finished_at.year <= _CURSOR_YEARS[1]:
        raise InvalidCursor(_NOT_OURS)  # no book was finished then: MySQL cannot say
    return position


def _to_row(book: FinishedBook) -> BookRow:
    return BookRow(
        id=str(book.id),
        user_id=book.user_id.value,
        title=book.title.value,
        language=book.spec.language.value,
        reader_age=book.spec.reader_age,
        setting=book.spec.setting,
        characters=[{"name": c.name, "description": c.description} for c in book.spec.characters],
        page_count=book.spec.page_count,
        cover_key=book.cover_key,
        created_at=book.created_at,
        finished_at=book.finished_at,
        finished_by=book.finished_by.value,
        tokens_in=book.usage.tokens_in,
        tokens_out=book.usage.tokens_out,
        images_generated=book.usage.images,
        pages=[
            PageRow(number=p.number, input=p.input, text=p.text, image_key=p.image_key)
            for p in book.pages
        ],
    )


def _to_domain(row: BookRow) -> FinishedBook:
    spec = BookSpec(
        characters=tuple(Character(c["name"], c.get("description", "")) for c in row.characters),
        page_count=row.page_count,
        language=Language(row.language),
        reader_age=row.reader_age,
        setting=row.setting,
    )
    return FinishedBook(
        id=UUID(row.id),
        user_id=UserId(row.user_id),
        title=Title(row.title),
        spec=spec,
        pages=tuple(FinishedPage(p.number, p.input, p.text, p.image_key) for p in row.pages),
        cover_key=row.cover_key,
        created_at=row.created_at,
        finished_at=row.finished_at,
        finished_by=FinishedBy(row.finished_by),
        usage=Usage(row.tokens_in, row.tokens_out, row.images_generated),
    )
