"""Draw a page's failed picture again, without rewriting its text."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta

from app.application.background import BackgroundJobs
from app.application.errors import GenerationFailed, NoBookInProgress, VersionConflict
from app.application.pictures import PICTURE_COST, Picture, Pictures
from app.application.ports import BookInProgressRepository, Clock, GenerationLimits, IdGenerator
from app.domain.book import Book
from app.domain.errors import GenerationInProgress
from app.domain.values import ImageAttempt, ImageStatus, UserId

_CLAIM_ATTEMPTS = 5


class RedrawPicture:
    def __init__(
        self,
        books: BookInProgressRepository,
        pictures: Pictures,
        limits: GenerationLimits,
        jobs: BackgroundJobs,
        clock: Clock,
        ids: IdGenerator,
        lease: timedelta,
    ) -> None:
        self._books = books
        self._pictures = pictures
        self._limits = limits
        self._jobs = jobs
        self._clock = clock
        self._ids = ids
        self._lease = lease

    async def execute(self, user_id: UserId, page_number: int) -> Book:
        """Draw it now; the book returned has the picture (or `GenerationFailed`, the picture
        still failed and the text untouched)."""
        book, attempt = await self._claim(user_id, page_number)
        drawing = self._draw(book, page_number)
        stored = await self._pictures.settle(book, page_number, attempt.attempt_id, drawing)
        if stored is None:
            raise await self._why_lost(user_id)
        if stored.pages[page_number - 1].image_status is not ImageStatus.READY:
            raise GenerationFailed(f"the picture of page {page_number} could not be drawn")
        return stored

    async def start(self, user_id: UserId, page_number: int) -> Book:
        """Claim the picture and return the book (the page's picture `pending`); it is drawn in
        the background and announced with `image_ready` (or `generation_failed`)."""
        book, attempt = await self._claim(user_id, page_number)
        claimed = copy.deepcopy(book)
        drawing = self._draw(book, page_number)
        self._jobs.spawn(
            self._settle_quietly(book, page_number, attempt.attempt_id, drawing),
            name=f"picture-{user_id.value}-{page_number}",
        )
        return claimed

    def _draw(self, book: Book, page_number: int) -> asyncio.Task[Picture]:
        page = book.pages[page_number - 1]
        return asyncio.create_task(self._pictures.draw_page(book, page_number, page.input))

    async def _settle_quietly(
        self, book: Book, page_number: int, attempt_id: str, drawing: asyncio.Task[Picture]
    ) -> None:
        await self._pictures.settle(book, page_number, attempt_id, drawing)

    async def _claim(self, user_id: UserId, page_number: int) -> tuple[Book, ImageAttempt]:
        attempt_id = str(self._ids.new_id())
        checked = False
        for _ in range(_CLAIM_ATTEMPTS):
            book = await self._books.get(user_id)
            if book is None:
                raise NoBookInProgress("there is no book in progress")
            expected = book.version
            attempt = book.begin_illustration(
                page_number, attempt_id, self._clock.now(), self._lease
            )
            if not checked:
                await self._limits.check(user_id, PICTURE_COST)
                checked = True
            try:
                await self._books.update(book, expected)
            except VersionConflict:
                continue
            return book, attempt
        raise GenerationInProgress("the book is busy; try again in a moment")

    async def _why_lost(self, user_id: UserId) -> Exception:
        if await self._books.get(user_id) is None:
            return NoBookInProgress("the book was discarded while the picture was being drawn")
        return GenerationFailed("the picture took longer than its lease and was given up")
