from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from app.application.concurrency import both, within
from app.application.errors import BookAlreadyInProgress, GenerationFailed
from app.application.generated import next_page_questions
from app.application.image_keys import staging_key
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    ContentModerator,
    ContextGenerator,
    GenerationCost,
    GenerationLimits,
    IdGenerator,
    IllustrationRequest,
    Illustrator,
    ImageStorage,
    QuestionGenerator,
)
from app.application.ports.generation import IllustrationKind
from app.application.spending import taken
from app.domain.book import Book
from app.domain.errors import InvalidValue
from app.domain.values import BookLifetime, BookSpec, UserId


def spec_texts(spec: BookSpec) -> list[str]:
    """Everything the child typed when starting a book, for moderation."""
    texts = [part for c in spec.characters for part in (c.name, c.description) if part]
    return [*texts, spec.setting] if spec.setting else texts


COVER_COST = GenerationCost(images=1)


def start_change(request_id: str) -> str:
    return f"start:{request_id}"


class StartBook:
    """Create the user's book: check what the child typed, write the character sheet, then draw
    the cover and ask the opening questions at once, and store the book open."""

    def __init__(
        self,
        *,
        books: BookInProgressRepository,
        images: ImageStorage,
        context_generator: ContextGenerator,
        illustrator: Illustrator,
        question_generator: QuestionGenerator,
        moderator: ContentModerator,
        limits: GenerationLimits,
        clock: Clock,
        ids: IdGenerator,
        lifetime: BookLifetime,
        deadline: timedelta | None = None,
    ) -> None:
        self._deadline = deadline
        self._limits = limits
        self._books = books
        self._images = images
        self._context_generator = context_generator
        self._illustrator = illustrator
        self._question_generator = question_generator
        self._moderator = moderator
        self._clock = clock
        self._ids = ids
        self._lifetime = lifetime

    async def execute(
        self, user_id: UserId, spec: BookSpec, *, request_id: str | None = None
    ) -> Book:
        """`request_id` names the client's request: a retry of it whose answer was lost gets the
        book it started, not a 409."""
        # Checked first so a second book costs no generation; `add` stays the race-free guard.
        existing = await self._books.get(user_id)
        if existing is not None:
            if request_id is not None and existing.has_change(start_change(request_id)):
                return existing
            raise BookAlreadyInProgress(f"user {user_id} already has a book in progress")
        book = Book.start(self._ids.new_id(), user_id, spec, self._lifetime, self._clock.now())
        # Given back if the cover cannot be made; once it is drawn it stays counted.
        async with taken(self._limits, user_id, COVER_COST):
            await self._moderator.check(spec_texts(spec), spec.language)
            async with within(self._deadline, "the cover"):
                sheet = await self._context_generator.character_sheet(spec)
                context = replace(book.story_context(), character_sheet=sheet.text)
                cover, suggestions = await both(
                    self._illustrator.draw(
                        IllustrationRequest(context, IllustrationKind.COVER, scene=spec.setting)
                    ),
                    self._question_generator.create(context),
                )
        opening = next_page_questions(suggestions)
        key = staging_key(user_id, book.id, self._ids.new_id())
        await self._images.put(key, cover)
        try:
            book.open(
                key,
                opening,
                self._clock.now(),
                sheet.text,
                sheet.usage + suggestions.usage + cover.usage,
            )
        except InvalidValue as error:
            raise GenerationFailed(f"the character sheet is unusable: {error}") from None
        if request_id is not None:
            book.mark_change(start_change(request_id))
        await self._books.add(book)
        return book
