from __future__ import annotations

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


class FinishBook:
    """Keep a done book for good. Every step is safe to repeat, so a retry completes the same book:

    copy images to permanent keys -> insert the row (an existing row wins) -> delete the staged
    images -> delete the book in progress if nobody changed it meanwhile.
    """

    def __init__(
        self,
        books: BookInProgressRepository,
        finished: FinishedBookRepository,
        images: ImageStorage,
        clock: Clock,
    ) -> None:
        self._books = books
        self._finished = finished
        self._images = images
        self._clock = clock

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
        stored = await self._finished.add(finished)
        await self._images.delete(staged)
        await self._books.delete_if_unchanged(book)
        return stored
