from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from app.application.concurrency import both, within
from app.application.errors import GenerationFailed, NoBookInProgress, VersionConflict
from app.application.generated import next_page_questions
from app.application.image_keys import staging_key
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    ContentModerator,
    ContextGenerator,
    IdGenerator,
    IllustrationRequest,
    Illustrator,
    Image,
    ImageStorage,
    QuestionGenerator,
)
from app.application.ports.generation import IllustrationKind
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
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Draft:
    """A page written and drawn, not yet stored."""

    text: str
    summary: str | None
    questions: Questions
    usage: Usage
    image_key: str = ""


class WritePage:
    """Write the next page: claim the book, write text and draw concurrently, store the page."""

    def __init__(
        self,
        books: BookInProgressRepository,
        images: ImageStorage,
        writer: ContextGenerator,
        questions: QuestionGenerator,
        illustrator: Illustrator,
        moderator: ContentModerator,
        clock: Clock,
        ids: IdGenerator,
        lease: timedelta,
        deadline: timedelta | None = None,
    ) -> None:
        self._deadline = deadline
        self._moderator = moderator
        self._books = books
        self._images = images
        self._writer = writer
        self._questions = questions
        self._illustrator = illustrator
        self._clock = clock
        self._ids = ids
        self._lease = lease

    async def execute(self, user_id: UserId, child_input: ChildInput) -> Book:
        current = await self._books.get(user_id)
        if current is None:
            raise NoBookInProgress("there is no book in progress")
        await self._moderator.check([child_input.value], current.spec.language)
        book, generation = await self._claim(user_id, child_input)
        try:
            async with within(self._deadline, "the page"):
                draft = await self._generate(book, generation)
        except Exception:
            await asyncio.shield(self._release(book, generation))
            raise
        claimed_version = book.version
        book.complete_page(
            generation.attempt_id,
            draft.text,
            draft.image_key,
            draft.questions,
            self._clock.now(),
            summary=draft.summary,
            usage=draft.usage,
        )
        try:
            await self._books.update(book, claimed_version)
        except VersionConflict:
            raise await self._why_lost(user_id) from None
        return book

    async def _claim(self, user_id: UserId, child_input: ChildInput) -> tuple[Book, Generation]:
        """Move the book to `generating` with a compare-and-set, so only one request wins."""
        attempt_id = str(self._ids.new_id())
        for _ in range(_CLAIM_ATTEMPTS):
            book = await self._books.get(user_id)
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

    async def _generate(self, book: Book, generation: Generation) -> _Draft:
        context = book.story_context()
        written, image = await both(
            self._text_then_questions(context, generation),
            self._illustrator.draw(
                IllustrationRequest(
                    context, IllustrationKind.PAGE, generation.input, generation.page_number
                )
            ),
        )
        image_key = await self._stage(book, image)
        return replace(written, image_key=image_key, usage=written.usage + image.usage)

    async def _text_then_questions(self, context: StoryContext, generation: Generation) -> _Draft:
        page_text = await self._writer.create(context, generation.input)
        try:
            draft = Page(generation.page_number, generation.input, page_text.text, "pending")
        except InvalidValue as error:
            raise GenerationFailed(f"the page writer gave an unusable page: {error}") from None
        after = context.with_page(draft, page_text.summary)
        if after.is_complete:
            return _Draft(draft.text, page_text.summary, Questions(), page_text.usage)
        suggestions = await self._questions.create(after)
        questions = next_page_questions(suggestions)
        usage = page_text.usage + suggestions.usage
        return _Draft(draft.text, page_text.summary, questions, usage)

    async def _stage(self, book: Book, image: Image) -> str:
        key = staging_key(book.user_id, book.id, self._ids.new_id())
        await self._images.put(key, image)
        return key

    async def _release(self, book: Book, generation: Generation) -> None:
        """Give the book back with no page added. If that cannot be stored, the lease frees it."""
        try:
            current = await self._books.get(book.user_id)
            if current is None:
                return
            expected = current.version
            current.fail_generation(generation.attempt_id, self._clock.now())
            await self._books.update(current, expected)
        except (DomainError, VersionConflict) as error:
            log.info("generation already released: %s", error)
        except Exception:
            log.warning("could not release the generation; its lease will", exc_info=True)

    async def _why_lost(self, user_id: UserId) -> Exception:
        current = await self._books.get(user_id)
        if current is None:
            return NoBookInProgress("the book was discarded while the page was being written")
        return StaleGeneration("the page took longer than its lease and was given up")
