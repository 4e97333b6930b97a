from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from app.application.book_changes import BookChanges
from app.application.concurrency import both, within
from app.application.errors import (
    BookAlreadyInProgress,
    DependencyUnavailable,
    GenerationFailed,
    IdempotencyKeyInUse,
)
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
    Image,
    ImageStorage,
    QuestionGenerator,
)
from app.application.ports.generation import IllustrationKind
from app.application.spending import taken
from app.domain.book import Book, BookState
from app.domain.errors import DomainError, InvalidBookState, InvalidValue
from app.domain.values import BookLifetime, BookSpec, Questions, Usage, UserId

log = logging.getLogger(__name__)


def spec_texts(spec: BookSpec) -> list[str]:
    """Everything the child typed when starting a book, for moderation."""
    texts = [part for c in spec.characters for part in (c.name, c.description) if part]
    return [*texts, spec.setting] if spec.setting else texts


COVER_COST = GenerationCost(images=1)


def start_change(request_id: str) -> str:
    return f"start:{request_id}"


class StartBook:
    """Create the user's book: claim it first (stored `bookInit` before anything is generated, so
    a second start is refused at once and pays for nothing), check what the child typed, write
    the character sheet, draw the cover and ask the opening questions at once, and open it."""

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
        clock: Clock,
        ids: IdGenerator,
        lifetime: BookLifetime,
        lease: timedelta,
        deadline: timedelta | None = None,
    ) -> None:
        self._changes = changes
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
        self._lease = lease

    async def execute(
        self, user_id: UserId, spec: BookSpec, *, request_id: str | None = None
    ) -> Book:
        """`request_id` names the client's request: a retry of it whose answer was lost gets the
        book it started, not a 409."""
        existing = await self._books.get(user_id)
        if existing is not None:
            return self._earlier(existing, request_id)
        claimed = Book.start(
            self._ids.new_id(),
            user_id,
            spec,
            self._lifetime,
            self._clock.now(),
            opening_lease=self._lease,
        )
        if request_id is not None:
            claimed.mark_change(start_change(request_id))
        # Given back if the cover cannot be made; once it is drawn it stays counted.
        async with taken(self._limits, user_id, COVER_COST):
            # Another start won the race: 409 before anything is paid (a resent add whose reply
            # was lost finds its own book, see the repository).
            await self._books.add(claimed)
            try:
                # All of it within the deadline, which the opening lease outlasts.
                async with within(self._deadline, "the cover"):
                    await self._moderator.check(spec_texts(spec), spec.language)
                    cover = await self._cover(claimed)
            except BaseException:
                await asyncio.shield(self._abandon(claimed))
                raise
        return await self._open(claimed, cover)

    def _earlier(self, existing: Book, request_id: str | None) -> Book:
        if request_id is None or not existing.has_change(start_change(request_id)):
            raise BookAlreadyInProgress(f"user {existing.user_id} already has a book in progress")
        if existing.state is BookState.INIT:
            raise IdempotencyKeyInUse("This book is still being started; try again shortly.")
        return existing  # a retry of a request whose answer was lost

    async def _cover(self, claimed: Book) -> _Cover:
        spec = claimed.spec
        sheet = await self._context_generator.character_sheet(spec)
        context = replace(claimed.story_context(), character_sheet=sheet.text)
        cover, suggestions = await both(
            self._illustrator.draw(
                IllustrationRequest(context, IllustrationKind.COVER, scene=spec.setting)
            ),
            self._question_generator.create(context),
        )
        return _Cover(
            sheet.text,
            cover,
            next_page_questions(suggestions),
            sheet.usage + suggestions.usage + cover.usage,
        )

    async def _open(self, claimed: Book, cover: _Cover) -> Book:
        key = staging_key(claimed.user_id, claimed.id, self._ids.new_id())
        try:
            await self._images.put(key, cover.image)
        except BaseException:
            await asyncio.shield(self._abandon(claimed))
            raise

        def open_it(book: Book, now: datetime) -> None:
            try:
                book.open(key, cover.questions, now, cover.sheet, cover.usage)
            except InvalidValue as error:
                raise GenerationFailed(f"the character sheet is unusable: {error}") from None

        try:
            return await self._changes.change(
                claimed.user_id,
                open_it,
                change_id=f"open:{claimed.id}",
                book_id=claimed.id,
                known=claimed,
            )
        except GenerationFailed:
            await asyncio.shield(self._abandon(claimed))
            raise

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


@dataclass(frozen=True, slots=True)
class _Cover:
    """What opening a book made."""

    sheet: str
    image: Image
    questions: Questions
    usage: Usage
