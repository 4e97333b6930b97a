"""Export a finished book as a PDF or an EPUB: made once, kept beside its pictures, and served
from there afterwards (deleted with the book)."""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from app.application.errors import BookNotFound, ImageNotFound, ImageStorageUnavailable
from app.application.image_keys import export_key
from app.application.ports import FinishedBookRepository, ImageStorage
from app.application.ports.exports import BookRenderer, ExportFormat
from app.application.use_cases.sharing import BookSharing
from app.domain.finished import FinishedBook
from app.domain.values import UserId

log = logging.getLogger(__name__)


class ExportBook:
    def __init__(
        self,
        *,
        finished: FinishedBookRepository,
        images: ImageStorage,
        renderer: BookRenderer,
        sharing: BookSharing,
    ) -> None:
        self._finished = finished
        self._images = images
        self._renderer = renderer
        self._sharing = sharing

    async def own(
        self, owner: UserId, book_id: UUID, export_format: ExportFormat
    ) -> tuple[FinishedBook, bytes]:
        book = await self._finished.get(book_id)
        if book is None or book.user_id != owner:
            raise BookNotFound("no such book")
        return book, await self._file(book, export_format)

    async def shared(self, token: str, export_format: ExportFormat) -> tuple[FinishedBook, bytes]:
        """The export of the book a share link opens (404 as the link is)."""
        book = await self._sharing.read(token)
        return book, await self._file(book, export_format)

    async def _file(self, book: FinishedBook, export_format: ExportFormat) -> bytes:
        key = export_key(book.id, export_format.value)
        try:
            return await self._images.read_export(key)
        except ImageNotFound:
            pass
        keys = book.image_keys()
        images = await asyncio.gather(*(self._images.read(key) for key in keys))
        data = await self._renderer.render(
            book, {key: image.data for key, image in zip(keys, images, strict=True)}, export_format
        )
        # Two first requests at once both render; the same bytes are kept either way. A copy
        # that cannot be kept now is made again next time: the download does not fail for it.
        try:
            await self._images.put_export(key, data, export_format.media_type)
        except ImageStorageUnavailable as error:
            log.warning("could not keep the export of book %s: %s", book.id, error)
        log.info("exported book %s as %s (%d bytes)", book.id, export_format.value, len(data))
        return data
