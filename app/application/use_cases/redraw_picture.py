"""Draw a page's failed picture again, without rewriting its text."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.application.background import BackgroundJobs, awaited
from app.application.book_changes import BookChanges
from app.application.errors import (
    DependencyUnavailable,
    GenerationFailed,
    IdempotencyKeyInUse,
    NoBookInProgress,
)
from app.application.pictures import PICTURE_COST, PictureAttempt, Pictures
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    GenerationLimits,
    IdGenerator,
)
from app.application.spending import taken
from app.domain.book import Book
from app.domain.values import ImageStatus, StoryContext, UserId


def picture_job_name(attempt_id: str) -> str:
    return f"picture:{attempt_id}"


class RedrawPicture:
    def __init__(
        self,
        *,
        changes: BookChanges,
        books: BookInProgressRepository,
        pictures: Pictures,
        limits: GenerationLimits,
        jobs: BackgroundJobs,
        clock: Clock,
        ids: IdGenerator,
        lease: timedelta,
    ) -> None:
        self._changes = changes
        self._clock = clock
        self._books = books
        self._pictures = pictures
        self._limits = limits
        self._jobs = jobs
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

        def claim(book: Book, now: datetime) -> None:
            book.begin_illustration(page_number, attempt_id, now, self._lease, request_id)

        async with taken(self._limits, user_id, PICTURE_COST):
            book = await self._changes.change(user_id, claim, change_id=attempt_id, known=current)
        page = book.pages[page_number - 1]
        attempt = PictureAttempt(user_id, book.id, page_number, attempt_id, page.input)
        job = self._draw(book.story_context(), attempt)
        task = self._jobs.spawn(job, name=picture_job_name(attempt_id))
        return await awaited(task) if wait else book

    async def _earlier(self, book: Book, page_number: int, wait: bool) -> Book:
        """The answer to a request made before: its picture drawn, or still being drawn."""
        attempt = book.pages[page_number - 1].image_attempt
        if attempt is None or not wait:
            return book
        running = self._jobs.running(picture_job_name(attempt.attempt_id))
        if running is None:
            raise IdempotencyKeyInUse("This picture is still being drawn; try again shortly.")
        drawn: Book = await awaited(running)
        return drawn

    async def _draw(self, context: StoryContext, attempt: PictureAttempt) -> Book:
        """The job: it holds the story as it was at the claim, no book of its own."""
        drawing = self._pictures.start(context, attempt)
        settled = await self._pictures.settle(attempt, drawing)
        if settled.book is None:
            if await self._books.get(attempt.user_id) is None:
                raise NoBookInProgress("the book was discarded while the picture was being drawn")
            raise GenerationFailed("the picture took longer than its lease and was given up")
        if isinstance(settled.failure, DependencyUnavailable):
            raise settled.failure
        page = settled.book.pages[attempt.page_number - 1]
        if page.image_status is not ImageStatus.READY:
            raise GenerationFailed(f"the picture of page {attempt.page_number} could not be drawn")
        return settled.book
