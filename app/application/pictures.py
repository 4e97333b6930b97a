"""Drawing a page's picture, and storing what came of it on the book: shared by writing a page
(all at once or text first) and by drawing a failed picture again."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from app.application.concurrency import within
from app.application.errors import VersionConflict
from app.application.image_keys import staging_key
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    GenerationCost,
    GenerationLimits,
    IdGenerator,
    IllustrationRequest,
    Illustrator,
    ImageStorage,
)
from app.application.ports.generation import IllustrationKind
from app.application.spending import count_spent
from app.domain.book import Book
from app.domain.errors import DomainError
from app.domain.values import Usage

log = logging.getLogger(__name__)
_SETTLE_ATTEMPTS = 8
PICTURE_COST = GenerationCost(images=1)
# The picture of a page written text-first: the page's one generation was counted already.
PAGE_PICTURE_COST = GenerationCost(images=1, generations=0)


@dataclass(frozen=True, slots=True)
class Picture:
    """A picture drawn and staged."""

    key: str
    usage: Usage


class Pictures:
    def __init__(
        self,
        books: BookInProgressRepository,
        images: ImageStorage,
        illustrator: Illustrator,
        limits: GenerationLimits,
        clock: Clock,
        ids: IdGenerator,
        deadline: timedelta | None,
    ) -> None:
        self._books = books
        self._images = images
        self._illustrator = illustrator
        self._limits = limits
        self._clock = clock
        self._ids = ids
        self._deadline = deadline

    async def draw_page(self, book: Book, page_number: int, scene: str) -> Picture:
        request = IllustrationRequest(
            book.story_context(), IllustrationKind.PAGE, scene, page_number
        )
        image = await self._illustrator.draw(request)
        key = staging_key(book.user_id, book.id, self._ids.new_id())
        await self._images.put(key, image)
        return Picture(key, image.usage)

    async def settle(
        self,
        book: Book,
        page_number: int,
        attempt_id: str,
        drawing: asyncio.Task[Picture],
        cost: GenerationCost = PICTURE_COST,
    ) -> Book | None:
        """Wait for the picture of a page stored text-first and store the outcome: the picture,
        or its failure. Returns the book as stored, or None when the attempt no longer held the
        page (its lease passed, or the book was discarded)."""
        try:
            async with within(self._deadline, "the picture"):
                picture: Picture | None = await drawing
        except asyncio.CancelledError:
            drawing.cancel()
            await asyncio.shield(self._store(book, page_number, attempt_id, None))
            raise
        except Exception as error:  # noqa: BLE001 - any failure leaves the picture to retry
            drawing.cancel()
            log.warning("the picture of page %d failed: %s", page_number, error)
            picture = None
        stored = await asyncio.shield(self._store(book, page_number, attempt_id, picture))
        if stored is not None and picture is not None:
            await count_spent(self._limits, book.user_id, cost)
        return stored

    async def _store(
        self, book: Book, page_number: int, attempt_id: str, picture: Picture | None
    ) -> Book | None:
        known: Book | None = book  # as this job stored it: right unless changed since
        for _ in range(_SETTLE_ATTEMPTS):
            current, known = known or await self._books.get(book.user_id), None
            if current is None or current.id != book.id:
                return None
            expected = current.version
            now = self._clock.now()
            try:
                if picture is None:
                    current.fail_illustration(page_number, attempt_id, now)
                else:
                    current.attach_illustration(
                        page_number, attempt_id, picture.key, now, picture.usage
                    )
            except DomainError as error:
                log.info("the picture of page %d was given up: %s", page_number, error)
                return None
            try:
                await self._books.update(current, expected)
            except VersionConflict:
                continue  # the next page was stored meanwhile: apply to the new state
            return current
        log.warning("could not store the picture of page %d; its lease will free it", page_number)
        return None
