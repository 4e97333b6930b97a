"""Give back what dead processes still hold: a generation or a picture attempt whose lease has
passed is failed on the book (and announced), so the child can go on."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from app.application.errors import DependencyUnavailable, VersionConflict
from app.application.ports import BookInProgressRepository, Clock
from app.domain.values import UserId

log = logging.getLogger(__name__)
_BATCH = 100


class RecoverStuckGenerations:
    def __init__(self, books: BookInProgressRepository, clock: Clock) -> None:
        self._books = books
        self._clock = clock

    async def run_once(self) -> int:
        """Recover every book whose lease has passed; how many were changed."""
        now = self._clock.now()
        recovered = 0
        for user_id in await self._books.with_passed_leases(now, _BATCH):
            recovered += await self._recover(user_id)
        return recovered

    async def run_forever(self, interval: timedelta) -> None:
        while True:
            try:
                count = await self.run_once()
                if count:
                    log.info("gave back %d generations whose lease had passed", count)
            except DependencyUnavailable as error:
                log.warning("could not look for stuck generations: %s", error)
            await asyncio.sleep(interval.total_seconds())

    async def _recover(self, user_id: UserId) -> int:
        book = await self._books.get(user_id)
        if book is None:
            return 0
        expected = book.version
        if not book.give_up_expired(self._clock.now()):
            return 0
        try:
            await self._books.update(book, expected)
        except VersionConflict:
            return 0  # another process (or the user) changed it first; judged again next time
        return 1
