"""Write the next page, all at once (the response carries the page and its picture) or in the
background, text first (the response is the claimed book; the page and its picture follow as
events)."""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass
from datetime import timedelta

from app.application.background import BackgroundJobs
from app.application.concurrency import both, within
from app.application.errors import GenerationFailed, NoBookInProgress, VersionConflict
from app.application.generated import next_page_questions
from app.application.pictures import PAGE_PICTURE_COST, Picture, Pictures
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    ContentModerator,
    ContextGenerator,
    GenerationCost,
    GenerationLimits,
    IdGenerator,
    QuestionGenerator,
)
from app.application.spending import count_spent
from app.domain.book import Book
from app.domain.errors import DomainError, GenerationInProgress, InvalidValue, StaleGeneration
from app.domain.values import (
    ChildInput,
    Generation,
    Page,
    Questions,
    StoryContext,
    Usage,
    UserId,
)

_CLAIM_ATTEMPTS = 5
_STORE_ATTEMPTS = 8
log = logging.getLogger(__name__)
PAGE_COST = GenerationCost(pages=1, images=1)


@dataclass(frozen=True, slots=True)
class _Draft:
    """A page written, not yet stored."""

    text: str
    summary: str | None
    questions: Questions
    usage: Usage


class WritePage:
    """Claim the book, write the text (then the questions) while the picture is drawn, store."""

    def __init__(
        self,
        books: BookInProgressRepository,
        writer: ContextGenerator,
        questions: QuestionGenerator,
        pictures: Pictures,
        moderator: ContentModerator,
        limits: GenerationLimits,
        jobs: BackgroundJobs,
        clock: Clock,
        ids: IdGenerator,
        lease: timedelta,
        deadline: timedelta | None = None,
    ) -> None:
        self._books = books
        self._writer = writer
        self._questions = questions
        self._pictures = pictures
        self._moderator = moderator
        self._limits = limits
        self._jobs = jobs
        self._clock = clock
        self._ids = ids
        self._lease = lease
        self._deadline = deadline

    async def execute(self, user_id: UserId, child_input: ChildInput) -> Book:
        """Write the page and draw its picture; the book returned has both."""
        book, generation = await self._prepare_and_claim(user_id, child_input)
        try:
            async with within(self._deadline, "the page"):
                draft, picture = await both(
                    self._text_then_questions(book.story_context(), generation),
                    self._pictures.draw_page(book, generation.page_number, generation.input),
                )
        except BaseException:
            await asyncio.shield(self._release(book, generation))
            raise
        book = await self._store_page(book, generation, draft, picture)
        await count_spent(self._limits, user_id, PAGE_COST)
        return book

    async def start(self, user_id: UserId, child_input: ChildInput) -> Book:
        """Claim the book and return it (`generating`); the page is written in the background,
        its text stored and announced first, then its picture."""
        book, generation = await self._prepare_and_claim(user_id, child_input)
        claimed = copy.deepcopy(book)  # the job goes on changing `book`
        self._jobs.spawn(
            self._write_text_first(book, generation),
            name=f"page-{user_id.value}-{generation.page_number}",
        )
        return claimed

    async def _prepare_and_claim(
        self, user_id: UserId, child_input: ChildInput
    ) -> tuple[Book, Generation]:
        current = await self._books.get(user_id)
        if current is None:
            raise NoBookInProgress("there is no book in progress")
        await self._limits.check(user_id, PAGE_COST)
        await self._moderator.check([child_input.value], current.spec.language)
        return await self._claim(user_id, child_input, current)

    async def _claim(
        self, user_id: UserId, child_input: ChildInput, read: Book | None = None
    ) -> tuple[Book, Generation]:
        """Move the book to `generating` with a compare-and-set, so only one request wins.
        The first try uses the book just `read`; a conflict reads it again."""
        attempt_id = str(self._ids.new_id())
        for _ in range(_CLAIM_ATTEMPTS):
            book, read = read or await self._books.get(user_id), None
            if book is None:
                raise NoBookInProgress("there is no book in progress")
            expected = book.version
            generation = book.begin_generation(
                attempt_id, child_input, self._clock.now(), self._lease
            )
            try:
                await self._books.update(book, expected)
            except VersionConflict:
                continue  # someone else wrote first: read again and judge the new state
            return book, generation
        raise GenerationInProgress("the book is busy; try again in a moment")

    async def _write_text_first(self, book: Book, generation: Generation) -> None:
        picture = asyncio.create_task(
            self._pictures.draw_page(book, generation.page_number, generation.input)
        )
        try:
            async with within(self._deadline, "the page"):
                draft = await self._text_then_questions(book.story_context(), generation)
        except BaseException as error:
            picture.cancel()
            detail = "the server stopped while writing the page; it can be written again"
            if isinstance(error, Exception):
                log.warning("page %d failed: %s", generation.page_number, error)
                detail = "the page could not be written; it can be written again"
            await asyncio.shield(self._release(book, generation, detail))
            if not isinstance(error, Exception):
                raise
            return
        try:
            book = await self._store_page(book, generation, draft, None)
        except BaseException as error:
            picture.cancel()  # a picture for a page that was not stored would be paid for nothing
            if not isinstance(error, DomainError | NoBookInProgress):
                raise
            log.info("page %d was given up before it was stored: %s", generation.page_number, error)
            return
        await count_spent(self._limits, book.user_id, GenerationCost(pages=1))
        await self._pictures.settle(
            book, generation.page_number, generation.attempt_id, picture, PAGE_PICTURE_COST
        )

    async def _store_page(
        self, book: Book, generation: Generation, draft: _Draft, picture: Picture | None
    ) -> Book:
        """Store the page on the book as it is now: the attempt id and lease are the fence, not
        the version read at the claim (a picture of an earlier page may have been stored since)."""
        expected = book.version
        for _ in range(_STORE_ATTEMPTS):
            book.complete_page(
                generation.attempt_id,
                draft.text,
                None if picture is None else picture.key,
                draft.questions,
                self._clock.now(),
                summary=draft.summary,
                usage=draft.usage + (Usage() if picture is None else picture.usage),
                image_lease=None if picture is not None else self._lease,
            )
            try:
                await self._books.update(book, expected)
            except VersionConflict:
                current = await self._books.get(book.user_id)
                if current is None or current.id != book.id:
                    raise NoBookInProgress(
                        "the book was discarded while the page was being written"
                    ) from None
                book, expected = current, current.version
                continue
            return book
        raise StaleGeneration("the book kept changing while the page was being stored")

    async def _text_then_questions(self, context: StoryContext, generation: Generation) -> _Draft:
        page_text = await self._writer.create(context, generation.input)
        try:
            draft = Page(generation.page_number, generation.input, page_text.text, None)
        except InvalidValue as error:
            raise GenerationFailed(f"the page writer gave an unusable page: {error}") from None
        after = context.with_page(draft, page_text.summary)
        if after.is_complete:
            return _Draft(draft.text, page_text.summary, Questions(), page_text.usage)
        suggestions = await self._questions.create(after)
        questions = next_page_questions(suggestions)
        usage = page_text.usage + suggestions.usage
        return _Draft(draft.text, page_text.summary, questions, usage)

    async def _release(self, book: Book, generation: Generation, detail: str | None = None) -> None:
        """Give the book back with no page added. If that cannot be stored, the lease frees it."""
        try:
            current = await self._books.get(book.user_id)
            if current is None or current.id != book.id:
                return
            expected = current.version
            if detail is None:
                current.fail_generation(generation.attempt_id, self._clock.now())
            else:
                current.fail_generation(generation.attempt_id, self._clock.now(), detail=detail)
            await self._books.update(current, expected)
        except (DomainError, VersionConflict) as error:
            log.info("generation already released: %s", error)
        except Exception:
            log.warning("could not release the generation; its lease will", exc_info=True)
