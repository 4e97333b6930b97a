"""`BookRenderer`: the PDF and EPUB makers, run in a worker thread (they are CPU work)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from app.application.ports.exports import BookRenderer, ExportFormat
from app.domain.finished import FinishedBook
from app.infrastructure.exports.epub import render_epub
from app.infrastructure.exports.pdf import render_pdf


class FileRenderer(BookRenderer):
    async def render(
        self, book: FinishedBook, pictures: Mapping[str, bytes], export_format: ExportFormat
    ) -> bytes:
        make = render_pdf if export_format is ExportFormat.PDF else render_epub
        return await asyncio.to_thread(make, book, pictures)
