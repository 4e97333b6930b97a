from __future__ import annotations

from app.application.concurrency import both
from app.application.errors import BookAlreadyInProgress, GenerationFailed
from app.application.image_keys import staging_key
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    IdGenerator,
    IllustrationRequest,
    Illustrator,
    ImageStorage,
    QuestionGenerator,
)
from app.application.ports.generation import IllustrationKind
from app.domain.book import Book
from app.domain.errors import InvalidValue
from app.domain.values import BookLifetime, BookSpec, Questions, UserId


class StartBook:
    """Create the user's book, draw its cover, ask the opening questions, store it open."""

    def __init__(
        self,
        books: BookInProgressRepository,
        images: ImageStorage,
        illustrator: Illustrator,
        questions: QuestionGenerator,
        clock: Clock,
        ids: IdGenerator,
        lifetime: BookLifetime,
    ) -> None:
        self._books = books
        self._images = images
        self._illustrator = illustrator
        self._questions = questions
        self._clock = clock
        self._ids = ids
        self._lifetime = lifetime

    async def execute(self, user_id: UserId, spec: BookSpec) -> Book:
        # Checked first so a second book costs no generation; `add` stays the race-free guard.
        if await self._books.get(user_id) is not None:
            raise BookAlreadyInProgress(f"user {user_id} already has a book in progress")
        book = Book.start(self._ids.new_id(), user_id, spec, self._lifetime, self._clock.now())
        context = book.story_context()
        cover, suggestions = await both(
            self._illustrator.draw(
                IllustrationRequest(context, IllustrationKind.COVER, scene=spec.setting)
            ),
            self._questions.create(context),
        )
        try:
            opening = Questions(tuple(suggestions))
        except InvalidValue as error:
            raise GenerationFailed(
                f"the question generator gave unusable questions: {error}"
            ) from None
        if not opening.items:
            raise GenerationFailed("the question generator gave no question")
        key = staging_key(user_id, book.id, self._ids.new_id())
        await self._images.put(key, cover)
        book.open(key, opening, self._clock.now())
        await self._books.add(book)
        return book
