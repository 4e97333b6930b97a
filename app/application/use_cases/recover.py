"""Give back what dead processes still hold, and complete what they left half done: a
generation or a picture attempt whose lease has passed is failed on the book (and announced), so
the child can go on; a finish whose lease has passed is completed; a book whose opening was
abandoned (it never opened) is removed."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from app.application.book_changes import BookChanges
from app.application.errors import DependencyUnavailable, NoBookInProgress
from app.application.ports import BookInProgressRepository, Clock
from app.application.use_cases.finish_book import FinishBook
from app.domain.book import Book, BookState
from app.domain.errors import DomainError
from app.domain.values import UserId

log = logging.getLogger(__name__)
_BATCH = 100


class RecoverStuckGenerations:
    def __init__(
        self,
        *,
        changes: BookChanges,
        books: BookInProgressRepository,
        finish: FinishBook,
        clock: Clock,
    ) -> None:
        self._changes = changes
        self._books = books
        self._finish = finish
        self._clock = clock

    async def run_once(self) -> int:
        """Recover every book whose lease has passed; how many were changed."""
        recovered = 0
        for user_id in await self._books.with_passed_leases(self._clock.now(), _BATCH):
            try:
                recovered += await self._recover(user_id)
            except (DomainError, NoBookInProgress) as error:
                log.info("nothing to recover for a book: %s", error)
        return recovered

    async def run_forever(self, interval: timedelta) -> None:
        while True:
            try:
                count = await self.run_once()
                if count:
                    log.info("recovered %d books whose lease had passed", count)
            except DependencyUnavailable as error:
                log.warning("could not look for stuck generations: %s", error)
            await asyncio.sleep(interval.total_seconds())

    async def _recover(self, user_id: UserId) -> int:
        book = await self._books.get(user_id)
        if book is None:
            return 0
        if book.state is BookState.INIT:
            return await self._remove_abandoned_opening(book)
        claim = book.finish_claim
        if claim is not None:
            if not claim.lease_passed(self._clock.now()):
                return 0
            await self._finish.complete(book)
            log.info("completed a finish whose lease had passed")
            return 1
        version = book.version

        def give_up(current: Book, now: datetime) -> None:
            current.give_up_expired(now)

        stored = await self._changes.change(
            user_id, give_up, change_id=f"recover:{version}", book_id=book.id, known=book
        )
        return int(stored.version != version)

    async def _remove_abandoned_opening(self, book: Book) -> int:
        """A book whose opener died before it opened: removed, so the child can start again."""
        if not book.opening_abandoned(self._clock.now()):
            return 0

        def abandoned(current: Book, now: datetime) -> None:
            current.ensure_opening_abandoned(now)

        removed = await self._changes.remove(book.user_id, abandoned, book_id=book.id, known=book)
        if removed:
            log.info("removed a book whose opening was abandoned")
        return int(removed)
