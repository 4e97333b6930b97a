from __future__ import annotations

from uuid import UUID

from app.application.errors import BookNotFound
from app.application.image_keys import export_key
from app.application.ports import FinishedBookRepository, ImageStorage
from app.application.ports.exports import ExportFormat
from app.domain.finished import FinishedBook
from app.domain.values import UserId


class DeleteFinishedBook:
    """Delete one of the user's finished books (with no owner given: any user's, an admin's
    takedown): the row first (its share link goes with it), then its permanent images and
    exports.

    If the images cannot be deleted after the row is gone, `littlewriter reconcile` finds them.
    """

    def __init__(self, *, finished: FinishedBookRepository, images: ImageStorage) -> None:
        self._finished = finished
        self._images = images

    async def execute(self, user_id: UserId | None, book_id: UUID) -> FinishedBook:
        """The book deleted."""
        book = await self._finished.get(book_id)
        if book is None or (user_id is not None and book.user_id != user_id):
            raise BookNotFound("no such book")
        await self._finished.delete(book_id)
        exports = [export_key(book_id, f.value) for f in ExportFormat]
        await self._images.delete([*book.image_keys(), *exports])
        return book
