"""A finished book: kept for good, never changed again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from app.domain.errors import InvalidValue
from app.domain.values import BookSpec, Title, Usage, UserId


class FinishedBy(StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class FinishedPage:
    number: int
    input: str
    text: str
    image_key: str


@dataclass(frozen=True, slots=True)
class FinishedBook:
    id: UUID
    user_id: UserId
    title: Title
    spec: BookSpec
    pages: tuple[FinishedPage, ...]
    cover_key: str
    created_at: datetime
    finished_at: datetime
    finished_by: FinishedBy
    usage: Usage = Usage()

    def __post_init__(self) -> None:
        if not self.pages:
            raise InvalidValue("pages", "a finished book has at least one page")
        if [p.number for p in self.pages] != list(range(1, len(self.pages) + 1)):
            raise InvalidValue("pages", "pages must run 1..n with no gap")
        if self.spec.page_count != len(self.pages):
            raise InvalidValue("page_count", "a finished book has exactly its pages")

    def image_keys(self) -> list[str]:
        return [self.cover_key, *(p.image_key for p in self.pages)]

    def summary(self) -> FinishedBookSummary:
        return FinishedBookSummary(
            self.id, self.user_id, self.title, self.cover_key, len(self.pages), self.finished_at
        )


@dataclass(frozen=True, slots=True)
class FinishedBookSummary:
    id: UUID
    user_id: UserId
    title: Title
    cover_key: str
    page_count: int
    finished_at: datetime
