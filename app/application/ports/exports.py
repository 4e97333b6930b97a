"""Turning a finished book into a file to keep: a picture-book PDF, an EPUB 3."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from enum import StrEnum

from app.domain.finished import FinishedBook


class ExportFormat(StrEnum):
    PDF = "pdf"
    EPUB = "epub"

    @property
    def media_type(self) -> str:
        return "application/pdf" if self is ExportFormat.PDF else "application/epub+zip"


class BookRenderer(ABC):
    @abstractmethod
    async def render(
        self, book: FinishedBook, pictures: Mapping[str, bytes], export_format: ExportFormat
    ) -> bytes:
        """The book as a file; `pictures` holds the bytes of each of its image keys. Raises
        `ExportUnavailable` when it cannot be made here (no font for its script)."""
