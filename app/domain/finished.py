"""A finished book: kept for good, never changed again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from app.domain.errors import InvalidValue
from app.domain.values import BookSpec, Language, Title, Usage, UserId


class FinishedBy(StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class FinishClaim:
    """A finish under way. Taken on the book first, it fences the book: no page, picture, discard
    or other finish changes it until the finish completes (its own retry, or recovery once the
    lease passed, completes it with this title: a claimed finish is never given up)."""

    claim_id: str
    request_id: str  # what identifies the request: a retry of it resumes this finish
    title: Title
    finished_by: FinishedBy
    force: bool
    started_at: datetime
    lease_deadline: datetime

    def __post_init__(self) -> None:
        if not self.claim_id or not self.request_id:
            raise InvalidValue("finish_claim", "a finish claim names its claim and its request")
        if self.started_at.tzinfo is None or self.lease_deadline <= self.started_at:
            raise InvalidValue("finish_claim", "a finish claim's lease ends after it starts")

    @classmethod
    def taken(
        cls,
        claim_id: str,
        request_id: str,
        title: Title,
        finished_by: FinishedBy,
        force: bool,
        now: datetime,
        lease: timedelta,
    ) -> FinishClaim:
        return cls(claim_id, request_id, title, finished_by, force, now, now + lease)

    def lease_passed(self, now: datetime) -> bool:
        return now >= self.lease_deadline


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
            self.id,
            self.user_id,
            self.title,
            self.cover_key,
            len(self.pages),
            self.finished_at,
            self.spec.language,
            self.finished_by,
            self.usage,
        )


@dataclass(frozen=True, slots=True)
class FinishedBookSummary:
    id: UUID
    user_id: UserId
    title: Title
    cover_key: str
    page_count: int
    finished_at: datetime
    language: Language
    finished_by: FinishedBy
    usage: Usage
