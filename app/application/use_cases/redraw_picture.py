"""Draw a page's failed picture again, without rewriting its text: claim the picture, queue a
job that draws it."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from app.application.book_changes import BookChanges, Change
from app.application.errors import (
    ApplicationError,
    DependencyUnavailable,
    GenerationFailed,
    NoBookInProgress,
)
from app.application.job_results import book_after
from app.application.pictures import PICTURE_COST, PictureAttempt, Pictures
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    GenerationJob,
    GenerationLimits,
    GenerationQueue,
    IdGenerator,
    JobKind,
    ProviderCapacity,
    ProviderWork,
)
from app.application.request_context import current_request_id
from app.application.spending import taken
from app.domain.book import Book
from app.domain.errors import DomainError
from app.domain.values import ImageStatus, UserId

log = logging.getLogger(__name__)
PICTURE_WORK = ProviderWork(images=1)


class RedrawPicture:
    def __init__(
        self,
        *,
        changes: BookChanges,
        books: BookInProgressRepository,
        pictures: Pictures,
        limits: GenerationLimits,
        queue: GenerationQueue,
        capacity: ProviderCapacity,
        clock: Clock,
        ids: IdGenerator,
        lease: timedelta,
    ) -> None:
        self._capacity = capacity
        self._changes = changes
        self._clock = clock
        self._books = books
        self._pictures = pictures
        self._limits = limits
        self._queue = queue
        self._ids = ids
        self._lease = lease

    async def execute(
        self, user_id: UserId, page_number: int, *, wait: bool = True, request_id: str | None = None
    ) -> Book:
        """With `wait`, the book with the picture drawn (else `GenerationFailed`, or
        `DependencyUnavailable` when a backend was down; the picture failed, the text untouched);
        without, the book with the picture `pending`, announced by `image_ready` (or
        `generation_failed`) on the event stream."""
        current = await self._books.get(user_id)
        if current is None:
            raise NoBookInProgress("there is no book in progress")
        now = self._clock.now()
        if request_id is not None and current.picture_asked_by(page_number, request_id, now):
            return await self._earlier(current, page_number, wait)  # its answer was lost
        current.check_illustration_needed(page_number, now)  # refused for free
        attempt_id = str(self._ids.new_id())

        async with taken(self._limits, user_id, PICTURE_COST):
            turn = await self._capacity.reserve(PICTURE_WORK)

            def claim(book: Book, now: datetime) -> None:
                book.begin_illustration(
                    page_number, attempt_id, now, self._lease, request_id, wait=turn
                )

            book = await self._changes.change(user_id, claim, change_id=attempt_id, known=current)
            job = GenerationJob(
                JobKind.PICTURE, user_id, book.id, attempt_id, current_request_id(), delay=turn
            )
            await self._enqueue(job, page_number)
        if not wait:
            return book
        drawn = await self._drawn(job)
        if drawn.pages[page_number - 1].image_status is not ImageStatus.READY:
            # Its job stored the failure (a run of it again after that finds nothing to do).
            raise GenerationFailed(f"the picture of page {page_number} could not be drawn")
        return drawn

    async def _enqueue(self, job: GenerationJob, page_number: int) -> None:
        """A claim whose job cannot be queued fails its picture at once (not when its lease
        passes); its cost is given back by `taken` as the error goes through."""
        try:
            await self._queue.enqueue(job)
        except BaseException:

            def failed(book: Book, now: datetime) -> None:
                book.fail_illustration(page_number, job.attempt_id, now)

            await asyncio.shield(self._fail_quietly(job, failed))
            raise

    async def _fail_quietly(self, job: GenerationJob, change: Change) -> None:
        try:
            await self._changes.change(
                job.user_id, change, change_id=f"{job.attempt_id}:picture", book_id=job.book_id
            )
        except (DomainError, ApplicationError) as error:
            log.warning("could not fail a picture whose job was not queued: %s", error)

    async def _drawn(self, job: GenerationJob, *, joining: bool = False) -> Book:
        return await book_after(
            job, queue=self._queue, books=self._books, joining=joining, work="picture"
        )

    async def _earlier(self, book: Book, page_number: int, wait: bool) -> Book:
        """The answer to a request made before: its picture drawn, or still being drawn."""
        attempt = book.pages[page_number - 1].image_attempt
        if attempt is None or not wait:
            return book
        job = GenerationJob(JobKind.PICTURE, book.user_id, book.id, attempt.attempt_id)
        return await self._drawn(job, joining=True)

    async def run(self, job: GenerationJob, *, redelivered: bool = False) -> None:
        """The job: draw the picture the page was claimed for (a run after a dead one uses the
        picture it had staged); raise why it could not be drawn."""
        book = await self._books.get(job.user_id)
        if book is None or book.id != job.book_id:
            raise NoBookInProgress("the book was discarded while the picture was being drawn")
        page = book.page_drawn_by(job.attempt_id)
        if page is None:
            if book.has_change(f"{job.attempt_id}:picture"):
                return  # drawn and stored by an earlier run of this job
            raise GenerationFailed("the picture took longer than its lease and was given up")
        attempt = PictureAttempt(job.user_id, book.id, page.number, job.attempt_id, page.input)
        drawing = self._pictures.start(book.story_context(), attempt, reuse=redelivered)
        settled = await self._pictures.settle(attempt, drawing, known=book)
        if settled.book is None:
            if await self._books.get(attempt.user_id) is None:
                raise NoBookInProgress("the book was discarded while the picture was being drawn")
            raise GenerationFailed("the picture took longer than its lease and was given up")
        if isinstance(settled.failure, DependencyUnavailable):
            raise settled.failure
        drawn = settled.book.pages[attempt.page_number - 1]
        if drawn.image_status is not ImageStatus.READY:
            raise GenerationFailed(f"the picture of page {attempt.page_number} could not be drawn")
