"""What happened to a book, recorded by the aggregate as it changes and stored with the change,
so that a client watching the book hears of it (and never of a change that was not stored)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID


class EventName(StrEnum):
    PAGE_TEXT = "page_text"
    QUESTIONS = "questions"
    IMAGE_READY = "image_ready"
    PAGE_DONE = "page_done"
    GENERATION_FAILED = "generation_failed"
    BOOK_DONE = "book_done"


class FailedStage(StrEnum):
    TEXT = "text"
    ILLUSTRATION = "illustration"


@dataclass(frozen=True, slots=True)
class BookEvent:
    """One event: its name, the book and the version the change gave it, and what clients need.

    `data` holds only JSON values. `image_key` is internal: the interface turns it into a link."""

    name: EventName
    book_id: UUID
    version: int
    data: dict[str, Any]
