"""Drawing a page's picture, and storing what came of it on the book: shared by writing a page
and by drawing a failed picture again."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from app.application.book_changes import BookChanges
from app.application.concurrency import discard, within
from app.application.errors import ImageNotFound, NoBookInProgress
from app.application.image_keys import staging_key
from app.application.ports import (
    GenerationCost,
    GenerationLimits,
    IllustrationRequest,
    Illustrator,
    ImageStorage,
)
from app.application.ports.generation import IllustrationKind
from app.application.spending import give_back
from app.domain.book import Book
from app.domain.errors import DomainError
from app.domain.values import StoryContext, Usage, UserId

log = logging.getLogger(__name__)
PICTURE_COST = GenerationCost(images=1)
# The picture of a page written text-first: part of the page's one generation.
PAGE_PICTURE_COST = GenerationCost(images=1, generations=0)


async def staged_already(images: ImageStorage, key: str) -> bool:
    """A picture an earlier run of a job staged under the job's key, before its worker died."""
    try:
        await images.read(key)
    except ImageNotFound:
        return False
    return True


def drawn_well(drawing: asyncio.Task[Picture]) -> bool:
    """The picture was drawn and staged: it was paid for, whatever becomes of it."""
    return drawing.done() and not drawing.cancelled() and drawing.exception() is None


@dataclass(frozen=True, slots=True)
class Picture:
    """A picture drawn and staged."""

    key: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class PictureAttempt:
    """Which page's picture an attempt draws (all it needs; it holds no book of its own)."""

    user_id: UserId
    book_id: UUID
    page_number: int
    attempt_id: str
    scene: str


@dataclass(frozen=True, slots=True)
class Settled:
    """What came of a picture attempt: the book as stored (None when the attempt no longer held
    the page: its lease passed or the book was discarded) and why the picture failed, if it did."""

    book: Book | None
    failure: Exception | None


class Pictures:
    def __init__(
        self,
        *,
        changes: BookChanges,
        images: ImageStorage,
        illustrator: Illustrator,
        limits: GenerationLimits,
        deadline: timedelta | None,
        keep_on_cancel: bool = False,
    ) -> None:
        self._keep_on_cancel = keep_on_cancel
        self._changes = changes
        self._images = images
        self._illustrator = illustrator
        self._limits = limits
        self._deadline = deadline

    def start(
        self, context: StoryContext, attempt: PictureAttempt, *, reuse: bool = False
    ) -> asyncio.Task[Picture]:
        """Start drawing and staging the picture (the text may be written meanwhile). With
        `reuse`, a picture this attempt staged before (its job died after) is taken instead."""
        return asyncio.create_task(self._draw(context, attempt, reuse))

    async def settle(
        self,
        attempt: PictureAttempt,
        drawing: asyncio.Task[Picture],
        cost: GenerationCost = PICTURE_COST,
        known: Book | None = None,
    ) -> Settled:
        """Wait for the picture and store the outcome on the book: the picture, or its failure
        (and then its `cost`, taken from the limits when it was asked for, given back).
        `known` is the caller's own copy of the book as it last stored it (saves a read)."""
        failure: Exception | None = None
        try:
            async with within(self._deadline, "the picture"):
                picture: Picture | None = await drawing
        except asyncio.CancelledError:
            await discard(drawing)
            if not self._keep_on_cancel:  # else the job runs again and draws it then
                await asyncio.shield(self._store(attempt, None, known))
                await asyncio.shield(give_back(self._limits, attempt.user_id, cost))
            raise
        except Exception as error:  # noqa: BLE001 - any failure leaves the picture to retry
            await discard(drawing)
            log.warning("the picture of page %d failed: %s", attempt.page_number, error)
            picture, failure = None, error
        book = await asyncio.shield(self._store(attempt, picture, known))
        if picture is None:
            await give_back(self._limits, attempt.user_id, cost)
        return Settled(book, failure)

    async def _draw(self, context: StoryContext, attempt: PictureAttempt, reuse: bool) -> Picture:
        # One key per attempt: a job run again finds what its first run staged.
        key = staging_key(attempt.user_id, attempt.book_id, UUID(attempt.attempt_id))
        if reuse and await staged_already(self._images, key):
            log.info("the picture of page %d was staged already", attempt.page_number)
            # Its limits were taken by the run that drew it; what it cost is not known here.
            return Picture(key, Usage())
        request = IllustrationRequest(
            context, IllustrationKind.PAGE, attempt.scene, attempt.page_number
        )
        image = await self._illustrator.draw(request)
        await self._images.put(key, image)
        return Picture(key, image.usage)

    async def _store(
        self, attempt: PictureAttempt, picture: Picture | None, known: Book | None
    ) -> Book | None:
        def drawn(book: Book, now: datetime) -> None:
            if picture is None:
                book.fail_illustration(attempt.page_number, attempt.attempt_id, now)
            else:
                book.attach_illustration(
                    attempt.page_number, attempt.attempt_id, picture.key, now, picture.usage
                )

        try:
            return await self._changes.change(
                attempt.user_id,
                drawn,
                change_id=f"{attempt.attempt_id}:picture",
                book_id=attempt.book_id,
                known=known,
            )
        except (DomainError, NoBookInProgress) as error:
            log.info("the picture of page %d was given up: %s", attempt.page_number, error)
            return None
