from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from app.application.book_changes import BookChanges
from app.application.concurrency import both, within
from app.application.errors import (
    BookAlreadyInProgress,
    DependencyUnavailable,
    GenerationFailed,
    NoBookInProgress,
)
from app.application.generated import next_page_questions
from app.application.image_keys import staging_key
from app.application.job_results import book_after
from app.application.pictures import staged_already
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    ContentModerator,
    ContextGenerator,
    GenerationCost,
    GenerationJob,
    GenerationLimits,
    GenerationQueue,
    IdGenerator,
    IllustrationRequest,
    Illustrator,
    ImageStorage,
    JobKind,
    ProviderCapacity,
    ProviderWork,
    QuestionGenerator,
)
from app.application.ports.generation import IllustrationKind
from app.application.request_context import current_request_id
from app.application.spending import give_back, taken
from app.domain.book import Book, BookState
from app.domain.errors import DomainError, InvalidBookState, InvalidValue
from app.domain.values import BookLifetime, BookSpec, Questions, StoryContext, Usage, UserId

log = logging.getLogger(__name__)


def spec_texts(spec: BookSpec) -> list[str]:
    """Everything the child typed when starting a book, for moderation."""
    texts = [part for c in spec.characters for part in (c.name, c.description) if part]
    return [*texts, spec.setting] if spec.setting else texts


COVER_COST = GenerationCost(images=1)
COVER_WORK = ProviderWork(requests=2, images=1)  # the sheet, the questions and the cover


def start_change(request_id: str) -> str:
    return f"start:{request_id}"


class StartBook:
    """Create the user's book: claim it first (stored `bookInit` before anything is generated, so
    a second start is refused at once and pays for nothing), check what the child typed, and
    queue its cover; the job writes the character sheet, draws the cover and asks the opening
    questions at once, and opens the book. The request waits for that job, wherever it runs."""

    def __init__(
        self,
        *,
        changes: BookChanges,
        books: BookInProgressRepository,
        images: ImageStorage,
        context_generator: ContextGenerator,
        illustrator: Illustrator,
        question_generator: QuestionGenerator,
        moderator: ContentModerator,
        limits: GenerationLimits,
        queue: GenerationQueue,
        capacity: ProviderCapacity,
        clock: Clock,
        ids: IdGenerator,
        lifetime: BookLifetime,
        lease: timedelta,
        deadline: timedelta | None = None,
    ) -> None:
        self._changes = changes
        self._deadline = deadline
        self._limits = limits
        self._queue = queue
        self._capacity = capacity
        self._books = books
        self._images = images
        self._context_generator = context_generator
        self._illustrator = illustrator
        self._question_generator = question_generator
        self._moderator = moderator
        self._clock = clock
        self._ids = ids
        self._lifetime = lifetime
        self._lease = lease

    async def execute(
        self, user_id: UserId, spec: BookSpec, *, request_id: str | None = None
    ) -> Book:
        """`request_id` names the client's request: a retry of it whose answer was lost gets the
        book it started, not a 409."""
        existing = await self._books.get(user_id)
        if existing is not None:
            return await self._earlier(existing, request_id)
        # Taken back if the cover cannot be made (by the job, once it is queued).
        async with taken(self._limits, user_id, COVER_COST):
            wait = await self._capacity.reserve(COVER_WORK)
            claimed = Book.start(
                self._ids.new_id(),
                user_id,
                spec,
                self._lifetime,
                self._clock.now(),
                opening_lease=wait + self._lease,  # the cover's turn, then its work
            )
            if request_id is not None:
                claimed.mark_change(start_change(request_id))
            # Another start won the race: 409 before anything is paid (a resent add whose
            # reply was lost finds its own book, see the repository).
            await self._books.add(claimed)
            job = _cover_job(claimed, current_request_id(), delay=wait)
            try:
                await self._moderator.check(spec_texts(spec), spec.language)
                await self._queue.enqueue(job)
            except BaseException:
                await asyncio.shield(self._abandon(claimed))
                raise
        return await self._opened(job, joining=False)

    async def _opened(self, job: GenerationJob, *, joining: bool) -> Book:
        """The book its cover job opened. A book gone meanwhile (its cover failed in a run
        whose answer was lost, or it expired) is a start that failed, never a 404."""
        try:
            return await book_after(
                job, queue=self._queue, books=self._books, joining=joining, work="cover"
            )
        except NoBookInProgress:
            raise GenerationFailed(
                "the book could not be opened; nothing was kept, start it again"
            ) from None

    async def run(self, job: GenerationJob, *, redelivered: bool = False) -> None:
        """The job: make the cover and open the book (a run after a dead one uses the cover it
        had staged). A cover that cannot be made removes the book, so the child can start again
        at once, and gives its cost back."""
        claimed = await self._books.get(job.user_id)
        if claimed is None or claimed.id != job.book_id:
            raise NoBookInProgress("the book was discarded while its cover was being drawn")
        if claimed.state is not BookState.INIT:
            return  # opened by an earlier run of this job
        cover: _Cover | None = None
        try:
            # All of it within the deadline, which the opening lease outlasts.
            async with within(self._deadline, "the cover"):
                cover = await self._cover(claimed, job, reuse=redelivered)
            await self._open(claimed, cover)
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError) and self._queue.durable:
                raise  # stopped with its process: it runs again, and finds what this run did
            await asyncio.shield(self._abandon(claimed))
            if cover is None:
                await asyncio.shield(give_back(self._limits, job.user_id, COVER_COST))
            raise

    async def _earlier(self, existing: Book, request_id: str | None) -> Book:
        """A retry of a request whose answer was lost: the book it started, once opened."""
        if request_id is None or not existing.has_change(start_change(request_id)):
            raise BookAlreadyInProgress(f"user {existing.user_id} already has a book in progress")
        if existing.state is not BookState.INIT:
            return existing
        return await self._opened(_cover_job(existing), joining=True)

    async def _cover(self, claimed: Book, job: GenerationJob, *, reuse: bool) -> _Cover:
        spec = claimed.spec
        sheet = await self._context_generator.character_sheet(spec)
        context = replace(claimed.story_context(), character_sheet=sheet.text)
        # One key per job: a job run again finds what its first run staged.
        key = staging_key(claimed.user_id, claimed.id, UUID(job.attempt_id))
        image_usage, suggestions = await both(
            self._staged_cover(key, context, reuse),
            self._question_generator.create(context),
        )
        return _Cover(
            sheet.text,
            key,
            next_page_questions(suggestions),
            sheet.usage + suggestions.usage + image_usage,
        )

    async def _staged_cover(self, key: str, context: StoryContext, reuse: bool) -> Usage:
        if reuse and await staged_already(self._images, key):
            log.info("the cover was staged already")
            return Usage()  # what it cost is not known here
        image = await self._illustrator.draw(
            IllustrationRequest(context, IllustrationKind.COVER, scene=context.spec.setting)
        )
        await self._images.put(key, image)
        return image.usage

    async def _open(self, claimed: Book, cover: _Cover) -> None:
        def open_it(book: Book, now: datetime) -> None:
            try:
                book.open(cover.key, cover.questions, now, cover.sheet, cover.usage)
            except InvalidValue as error:
                raise GenerationFailed(f"the character sheet is unusable: {error}") from None

        await self._changes.change(
            claimed.user_id,
            open_it,
            change_id=f"open:{claimed.id}",
            book_id=claimed.id,
            known=claimed,
        )

    async def _abandon(self, claimed: Book) -> None:
        """The book could not be opened: remove it, so the child can start again at once. If
        that cannot be stored, the opening lease passes and recovery removes it."""

        def not_opened(book: Book, now: datetime) -> None:
            if book.state is not BookState.INIT:
                raise InvalidBookState("the book was opened")

        try:
            await self._changes.remove(claimed.user_id, not_opened, book_id=claimed.id)
        except (DomainError, DependencyUnavailable) as error:
            log.warning("could not remove a book that failed to open: %s", error)


def _cover_job(
    book: Book, request_id: str | None = None, delay: timedelta = timedelta(0)
) -> GenerationJob:
    # One cover per book: the book's id is its attempt (and names its staged picture).
    return GenerationJob(JobKind.COVER, book.user_id, book.id, str(book.id), request_id, delay)


@dataclass(frozen=True, slots=True)
class _Cover:
    """What opening a book made."""

    sheet: str
    key: str  # the cover, staged
    questions: Questions
    usage: Usage
