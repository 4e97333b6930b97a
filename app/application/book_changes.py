"""The one way to change a book in progress.

Read it, change it through the aggregate, store it with a compare-and-set (the book, its events
and its lease entry in one atomic write); a conflict reads it again and applies the change to
what is there now. Every change is named and the name is stored on the book with it, so when the
store cannot say whether a write landed (a lost reply, a reset, a timeout) the book is read
again and the name tells. Use cases never write their own retry loops."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from app.application.errors import DependencyUnavailable, NoBookInProgress, VersionConflict
from app.application.ports import BookInProgressRepository, Clock, FinishedRecord
from app.domain.book import Book
from app.domain.errors import GenerationInProgress
from app.domain.values import UserId

log = logging.getLogger(__name__)

# A change: calls the aggregate's methods on the book as it is now. Raising refuses the change.
Change = Callable[[Book, datetime], object]
DEFAULT_ATTEMPTS = 8


class BookChanges:
    def __init__(
        self, *, books: BookInProgressRepository, clock: Clock, attempts: int = DEFAULT_ATTEMPTS
    ) -> None:
        self._books = books
        self._clock = clock
        self._attempts = attempts

    async def change(
        self,
        user_id: UserId,
        change: Change,
        *,
        change_id: str,
        book_id: UUID | None = None,
        known: Book | None = None,
    ) -> Book:
        """Apply `change` and store it; the book as stored. `known` is a copy of the book just
        read (saves a read; the change goes to it first). With `book_id`, a different book of the
        user (the first was discarded and another started) is no book: `NoBookInProgress`.
        A change already stored under `change_id` is not applied again."""
        for _ in range(self._attempts):
            book = known if known is not None else await self._read(user_id, book_id)
            known = None
            if book.has_change(change_id):
                return book
            expected = book.version
            change(book, self._clock.now())
            if book.version == expected:
                return book  # the change had nothing to do
            book.mark_change(change_id)
            try:
                await self._books.update(book, expected)
            except VersionConflict:
                continue  # changed since it was read: judge the change again on what is there
            except DependencyUnavailable:
                stored = await self._stored_after_doubt(user_id, change_id)
                if stored is None:
                    raise
                return stored
            return book
        raise GenerationInProgress("the book is busy; try again in a moment")

    async def remove(
        self,
        user_id: UserId,
        check: Change,
        *,
        book_id: UUID | None = None,
        known: Book | None = None,
        finished: FinishedRecord | None = None,
    ) -> bool:
        """Remove the book if `check` (which raises to refuse) allows it on the book as it is;
        False when there was no such book to remove. `finished` is left behind for a finish."""
        tried: UUID | None = None
        for _ in range(self._attempts):
            book = known if known is not None else await self._books.get(user_id)
            known = None
            wanted = tried or book_id
            if book is None or (wanted is not None and book.id != wanted):
                # The book we tried to remove is gone after a conflict: a removal sent again by
                # the client after its reply was lost finds the book it had removed.
                return tried is not None
            check(book, self._clock.now())
            tried = book.id
            try:
                await self._books.remove(book, book.version, finished)
            except VersionConflict:
                continue
            except DependencyUnavailable:
                if not await self._gone_after_doubt(user_id, book.id):
                    raise
            return True
        raise GenerationInProgress("the book is busy; try again in a moment")

    async def _read(self, user_id: UserId, book_id: UUID | None) -> Book:
        book = await self._books.get(user_id)
        if book is None or (book_id is not None and book.id != book_id):
            raise NoBookInProgress("there is no book in progress")
        return book

    async def _stored_after_doubt(self, user_id: UserId, change_id: str) -> Book | None:
        """After a write whose outcome is unknown: the book, if the change is stored."""
        try:
            book = await self._books.get(user_id)
        except DependencyUnavailable:
            return None
        if book is not None and book.has_change(change_id):
            log.info("a change whose reply was lost had been stored")
            return book
        return None

    async def _gone_after_doubt(self, user_id: UserId, book_id: UUID) -> bool:
        try:
            book = await self._books.get(user_id)
        except DependencyUnavailable:
            return False
        return book is None or book.id != book_id
