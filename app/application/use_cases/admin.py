"""The admin's console: books in progress and finished books of every user, a day's cost, and
the actions on them, each written to the audit log: a view once it has succeeded, a finish once
it is claimed and a takedown once the book is found, both before they are carried out (so an
action that goes ahead is never left unrecorded). A refused action, a failed view and lists are
not recorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from app.application.ports import (
    BookInProgressRepository,
    BooksInProgressPage,
    Clock,
    FinishedBookPage,
    FinishedBookRepository,
    IdGenerator,
    UsageTotals,
)
from app.application.ports.audit import AdminAuditLog, AuditPage
from app.application.ports.sharing import ShareLinkRepository
from app.application.use_cases.delete_book import DeleteFinishedBook
from app.application.use_cases.finish_book import FinishBook
from app.application.use_cases.queries import BookQueries
from app.domain.audit import AdminAction, AuditEntry, DetailValue
from app.domain.book import Book, BookState
from app.domain.finished import FinishedBook, FinishedBy
from app.domain.sharing import ShareLink
from app.domain.values import Title, UserId

# A book is finished once and taken down once: each has one entry, whichever try of the request
# writes it (a repeat whose entry was written already adds none; one whose entry was lost writes
# it). A finished book keeps the id it had in progress.
_FINISH_ENTRIES = uuid.UUID("6f1c0b1e-2a57-4c59-9a4f-4e2f3f0d7a11")
_TAKEDOWN_ENTRIES = uuid.UUID("0b6f4d52-8a3e-4f5b-9c1d-2e7a6b3c9f40")


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class FinishedBookSeen:
    """A finished book as the admin sees it: with its share link, if one is open."""

    book: FinishedBook
    share_link: ShareLink | None


class AdminConsole:
    def __init__(
        self,
        *,
        books: BookInProgressRepository,
        finished: FinishedBookRepository,
        audit: AdminAuditLog,
        share_links: ShareLinkRepository,
        queries: BookQueries,
        finish_book: FinishBook,
        delete_book: DeleteFinishedBook,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._books = books
        self._finished = finished
        self._audit = audit
        self._share_links = share_links
        self._queries = queries
        self._finish_book = finish_book
        self._delete_book = delete_book
        self._clock = clock
        self._ids = ids

    # -- lists (not recorded) ------------------------------------------------------------------

    async def books_in_progress(
        self,
        *,
        state: BookState | None,
        user_id: UserId | None,
        limit: int,
        cursor: str | None,
    ) -> BooksInProgressPage:
        return await self._books.list_in_progress(
            state=state, user_id=user_id, limit=limit, cursor=cursor
        )

    async def finished_books(
        self, user_id: UserId | None, limit: int, cursor: str | None
    ) -> FinishedBookPage:
        return await self._finished.list_finished(user_id, limit, cursor)

    async def usage_on(self, day: date | None) -> DayUsage:
        """The books finished on that UTC day (today by the clock when None), and their cost."""
        day = day or self._clock.now().astimezone(UTC).date()
        start = datetime.combine(day, time(), tzinfo=UTC)
        return DayUsage(day, await self._finished.usage_between(start, start + timedelta(days=1)))

    async def audit_log(self, limit: int, cursor: str | None) -> AuditPage:
        return await self._audit.entries(limit, cursor)

    # -- actions (recorded) --------------------------------------------------------------------

    async def book_in_progress(self, admin: UserId, user_id: UserId) -> Book:
        book = await self._queries.current(user_id)
        await self._record(admin, AdminAction.VIEW_BOOK_IN_PROGRESS, user_id, book.id)
        return book

    async def finished_book(self, admin: UserId, book_id: UUID) -> FinishedBookSeen:
        book = await self._queries.finished(book_id, owner=None)
        link = await self._share_links.active(book.id, self._clock.now())
        await self._record(admin, AdminAction.VIEW_BOOK, book.user_id, book.id)
        return FinishedBookSeen(book, link)

    async def finish(
        self,
        admin: UserId,
        user_id: UserId,
        title: Title,
        *,
        force: bool,
        request_id: str | None,
    ) -> FinishedBook:
        # Recorded from inside the one finish flow, once the claim is held: a claimed finish
        # completes even if this process dies (the recovery loop carries it out), so an entry
        # written after it returns could be lost, and one written before the claim would record
        # a finish that is then refused.
        async def record(book_id: UUID, kept_as: Title) -> None:
            await self._record(
                admin,
                AdminAction.FINISH,
                user_id,
                book_id,
                {"title": kept_as.value, "force": force},
                entry_id=uuid.uuid5(_FINISH_ENTRIES, str(book_id)),
            )

        return await self._finish_book.execute(
            user_id,
            title,
            finished_by=FinishedBy.ADMIN,
            force=force,
            request_id=request_id,
            on_claimed=record,
        )

    async def take_down(self, admin: UserId, book_id: UUID) -> None:
        """Delete any user's finished book as its owner's delete does: the row, its pictures,
        exports and share link. Recorded first: once the row is gone a retry finds nothing (404)
        and could not write the entry (an entry whose takedown then failed is told by the book
        still being there; the retry takes it down and writes no second entry)."""
        book = await self._queries.finished(book_id, owner=None)
        await self._record(
            admin,
            AdminAction.TAKEDOWN,
            book.user_id,
            book.id,
            {"title": book.title.value},
            entry_id=uuid.uuid5(_TAKEDOWN_ENTRIES, str(book.id)),
        )
        await self._delete_book.execute(None, book_id)

    async def _record(
        self,
        admin: UserId,
        action: AdminAction,
        user_id: UserId,
        book_id: UUID,
        detail: dict[str, DetailValue] | None = None,
        *,
        entry_id: UUID | None = None,
    ) -> None:
        entry = AuditEntry(
            id=entry_id or self._ids.new_id(),
            at=self._clock.now(),
            admin_id=admin,
            action=action,
            user_id=user_id,
            book_id=book_id,
            detail=detail or {},
        )
        await self._audit.record(entry)
