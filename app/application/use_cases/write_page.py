"""Write the next page, text first: claim the book and queue a job; the job writes the text (then
the questions) while the picture is drawn, stores the text as soon as it exists and the picture
after it. A request that waits for the page waits for that same job, wherever it runs; one that
does not is answered with the claimed book and follows the page on the event stream. A job run
again (its worker died) finds on the book what it had done already."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from app.application.book_changes import BookChanges
from app.application.concurrency import discard, within
from app.application.errors import (
    DependencyUnavailable,
    GenerationFailed,
    NoBookInProgress,
)
from app.application.generated import next_page_questions
from app.application.job_results import book_after
from app.application.pictures import (
    PAGE_PICTURE_COST,
    Picture,
    PictureAttempt,
    Pictures,
    drawn_well,
)
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
    JobKind,
    ProviderCapacity,
    ProviderWork,
    QuestionGenerator,
)
from app.application.request_context import current_request_id
from app.application.spending import give_back, taken
from app.domain.book import Book
from app.domain.errors import DomainError, InvalidValue, StaleGeneration
from app.domain.values import ChildInput, Generation, Page, Questions, StoryContext, Usage, UserId

log = logging.getLogger(__name__)
PAGE_COST = GenerationCost(pages=1, images=1)
PAGE_WORK = ProviderWork(requests=2, images=1)  # the text, the questions and the picture


@dataclass(frozen=True, slots=True)
class _Draft:
    """A page written, not yet stored."""

    text: str
    summary: str | None
    questions: Questions
    usage: Usage


@dataclass(frozen=True, slots=True)
class _PageJob:
    """What the job works on, read from the book it holds."""

    user_id: UserId
    book_id: UUID
    context: StoryContext
    generation: Generation
    claimed: Book  # the job's own copy of the book as it read it: its first store needs no read

    @property
    def picture(self) -> PictureAttempt:
        g = self.generation
        return PictureAttempt(self.user_id, self.book_id, g.page_number, g.attempt_id, g.input)


class WritePage:
    def __init__(
        self,
        *,
        changes: BookChanges,
        books: BookInProgressRepository,
        context_generator: ContextGenerator,
        question_generator: QuestionGenerator,
        pictures: Pictures,
        moderator: ContentModerator,
        limits: GenerationLimits,
        queue: GenerationQueue,
        capacity: ProviderCapacity,
        clock: Clock,
        ids: IdGenerator,
        lease: timedelta,
        deadline: timedelta | None = None,
    ) -> None:
        self._capacity = capacity
        self._changes = changes
        self._clock = clock
        self._books = books
        self._context_generator = context_generator
        self._question_generator = question_generator
        self._pictures = pictures
        self._moderator = moderator
        self._limits = limits
        self._queue = queue
        self._ids = ids
        self._lease = lease
        self._deadline = deadline

    async def execute(
        self,
        user_id: UserId,
        child_input: ChildInput,
        *,
        wait: bool = True,
        request_id: str | None = None,
    ) -> Book:
        """With `wait`, the book with the page (its picture drawn, or failed and to be drawn
        again); without, the claimed book (`generating`). `request_id` names the client's
        request: a retry of it is answered from the book, never written twice."""
        current = await self._books.get(user_id)
        if current is None:
            raise NoBookInProgress("there is no book in progress")
        if request_id is not None and (earlier := await self._earlier(current, request_id, wait)):
            return earlier  # a retry of a request whose answer was lost
        attempt_id = str(self._ids.new_id())

        async with taken(self._limits, user_id, PAGE_COST):
            await self._moderator.check([child_input.value], current.spec.language)
            turn = await self._capacity.reserve(PAGE_WORK)

            def claim(book: Book, now: datetime) -> None:
                book.begin_generation(
                    attempt_id, child_input, now, self._lease, request_id, wait=turn
                )

            book = await self._changes.change(user_id, claim, change_id=attempt_id, known=current)
            job = GenerationJob(
                JobKind.PAGE, user_id, book.id, attempt_id, current_request_id(), delay=turn
            )
            await self._enqueue(job)
        return await self._finished(job) if wait else book

    async def _enqueue(self, job: GenerationJob) -> None:
        """A claim whose job cannot be queued is given back at once (not when its lease passes),
        and its generation with it (by `taken`, as the error goes through)."""
        try:
            await self._queue.enqueue(job)
        except BaseException as error:
            await asyncio.shield(self._give_back(job.user_id, job.book_id, job.attempt_id, error))
            raise

    async def _finished(self, job: GenerationJob, *, joining: bool = False) -> Book:
        return await book_after(
            job, queue=self._queue, books=self._books, joining=joining, work="page"
        )

    async def _earlier(self, book: Book, request_id: str, wait: bool) -> Book | None:
        """The answer to a request that was made before (its reply was lost): the page it wrote,
        or its page still being written. None when it left nothing on the book."""
        if book.page_written_by(request_id) is not None:
            return book
        generation = book.generation
        if generation is None or not book.generating_for(request_id, self._clock.now()):
            return None  # nothing of it stored, or its lease passed: it is written again
        if not wait:
            return book
        job = GenerationJob(JobKind.PAGE, book.user_id, book.id, generation.attempt_id)
        return await self._finished(job, joining=True)

    async def run(self, job: GenerationJob, *, redelivered: bool = False) -> None:
        """The job: write the page the book was claimed for, or what is left of it when an
        earlier run died part way (`redelivered`: a picture it had staged is used, not drawn
        again)."""
        book = await self._books.get(job.user_id)
        if book is None or book.id != job.book_id:
            raise NoBookInProgress("the book was discarded while the page was being written")
        generation = book.generation
        if generation is not None and generation.attempt_id == job.attempt_id:
            claimed = _PageJob(job.user_id, book.id, book.story_context(), generation, book)
            await self._write(claimed, reuse_picture=redelivered)
            return
        if not book.has_change(f"{job.attempt_id}:text"):
            raise GenerationFailed(
                "the page took longer than its lease and was given up; it can be written again"
            )
        page = book.page_drawn_by(job.attempt_id)
        if page is None:
            return  # the page and its picture are stored: an earlier run finished its work
        attempt = PictureAttempt(job.user_id, book.id, page.number, job.attempt_id, page.input)
        drawing = self._pictures.start(book.story_context(), attempt, reuse=True)
        await self._pictures.settle(attempt, drawing, PAGE_PICTURE_COST, book)

    async def _write(self, job: _PageJob, *, reuse_picture: bool) -> Book:
        drawing = self._pictures.start(job.context, job.picture, reuse=reuse_picture)
        draft: _Draft | None = None
        try:
            async with within(self._deadline, "the page"):
                draft = await self._text_then_questions(job.context, job.generation)
            # A picture drawn already goes with the text: one change, one wake-up of the streams.
            picture = drawing.result() if drawn_well(drawing) else None
            book = await self._store_text(job, draft, picture)  # the job's own copy from here on
        except BaseException as error:
            # What was produced was paid for, even thrown away; what was not is given back.
            unwritten = 0 if draft else 1
            unpaid = GenerationCost(
                pages=unwritten,
                images=0 if drawn_well(drawing) else 1,
                generations=unwritten,
            )
            await discard(drawing)  # a picture for a page that is not stored is of no use
            if isinstance(error, asyncio.CancelledError) and self._queue.durable:
                raise  # stopped with its process: it runs again, and finds what this run did
            attempt_id = job.generation.attempt_id
            await asyncio.shield(self._give_back(job.user_id, job.book_id, attempt_id, error))
            await asyncio.shield(give_back(self._limits, job.user_id, unpaid))
            raise
        if picture is not None:
            return book
        settled = await self._pictures.settle(job.picture, drawing, PAGE_PICTURE_COST, book)
        if settled.book is not None:
            return settled.book
        # The picture's attempt no longer held the page: its lease passed, or the book is gone.
        current = await self._books.get(job.user_id)
        if current is None or current.id != job.book_id:
            raise NoBookInProgress("the book was discarded while the page was being written")
        return current

    async def _store_text(self, job: _PageJob, draft: _Draft, picture: Picture | None) -> Book:
        """Store the page (with its picture, when it is drawn already) on the book as it is now:
        the attempt id and lease are the fence, not the version read at the claim (a picture of
        an earlier page may have been stored since)."""

        def complete(book: Book, now: datetime) -> None:
            book.complete_page(
                job.generation.attempt_id,
                draft.text,
                None if picture is None else picture.key,
                draft.questions,
                now,
                summary=draft.summary,
                usage=draft.usage if picture is None else draft.usage + picture.usage,
                image_lease=self._lease,
            )

        try:
            return await self._changes.change(
                job.user_id,
                complete,
                change_id=f"{job.generation.attempt_id}:text",
                book_id=job.book_id,
                known=job.claimed,
            )
        except StaleGeneration:
            raise GenerationFailed(
                "the page took longer than its lease and was given up; it can be written again"
            ) from None
        except NoBookInProgress:
            raise NoBookInProgress(
                "the book was discarded while the page was being written"
            ) from None

    async def _text_then_questions(self, context: StoryContext, generation: Generation) -> _Draft:
        page_text = await self._context_generator.create(context, generation.input)
        try:
            draft = Page(generation.page_number, generation.input, page_text.text, None)
        except InvalidValue as error:
            raise GenerationFailed(f"the page writer gave an unusable page: {error}") from None
        after = context.with_page(draft, page_text.summary)
        if after.is_complete:
            return _Draft(draft.text, page_text.summary, Questions(), page_text.usage)
        suggestions = await self._question_generator.create(after)
        questions = next_page_questions(suggestions)
        usage = page_text.usage + suggestions.usage
        return _Draft(draft.text, page_text.summary, questions, usage)

    async def _give_back(
        self, user_id: UserId, book_id: UUID, attempt_id: str, error: BaseException
    ) -> None:
        """Give the book back with no page added. If that cannot be stored, the lease frees it."""
        detail = "the page could not be written; it can be written again"
        if not isinstance(error, Exception):
            detail = "the server stopped while writing the page; it can be written again"

        def fail(book: Book, now: datetime) -> None:
            book.fail_generation(attempt_id, now, detail=detail)

        try:
            await self._changes.change(
                user_id, fail, change_id=f"{attempt_id}:failed", book_id=book_id
            )
        except (DomainError, NoBookInProgress) as reason:
            log.info("generation already given back: %s", reason)
        except DependencyUnavailable:
            log.warning("could not give the generation back; its lease will", exc_info=True)
