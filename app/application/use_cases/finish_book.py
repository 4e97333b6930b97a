from __future__ import annotations

from collections.abc import Callable

from app.application.errors import NoBookInProgress
from app.application.image_keys import cover_key, page_key
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    FinishedBookRepository,
    ImageStorage,
)
from app.domain.finished import FinishedBook, FinishedBy
from app.domain.values import Title, UserId

# The named steps of a finish at which a `checkpoint` is called, in order.
FINISH_STEPS = ("after_copies", "after_insert", "after_staged_delete", "before_store_delete")

Checkpoint = Callable[[str], None]


def _no_checkpoint(step: str) -> None:
    return None


class FinishBook:
    """Keep a done book for good. Every step is safe to repeat, so a retry completes the same book:

    copy images to permanent keys -> insert the row (an existing row wins) -> delete the staged
    images -> delete the book in progress if nobody changed it meanwhile.

    `checkpoint`, when given, is called with each name of `FINISH_STEPS` as the finish passes it
    (tests use it to stop the process there and prove that a retry completes the book).
    """

    def __init__(
        self,
        books: BookInProgressRepository,
        finished: FinishedBookRepository,
        images: ImageStorage,
        clock: Clock,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self._books = books
        self._finished = finished
        self._images = images
        self._clock = clock
        self._checkpoint = checkpoint or _no_checkpoint

    async def execute(
        self,
        user_id: UserId,
        title: Title,
        finished_by: FinishedBy = FinishedBy.USER,
        force: bool = False,
    ) -> FinishedBook:
        book = await self._books.get(user_id)
        if book is None:
            raise NoBookInProgress("there is no book in progress")
        finished = book.finish(
            title,
            self._clock.now(),
            cover_key=cover_key(book.id),
            page_key=lambda number: page_key(book.id, number),
            finished_by=finished_by,
            force=force,
        )
        staged = book.image_keys()
        await self._images.promote(dict(zip(staged, finished.image_keys(), strict=True)))
        self._checkpoint("after_copies")
        stored = await self._finished.add(finished)
        self._checkpoint("after_insert")
        await self._images.delete(staged)
        self._checkpoint("after_staged_delete")
        self._checkpoint("before_store_delete")
        await self._books.delete_if_unchanged(book)
        return stored
