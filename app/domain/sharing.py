"""A finished book's share link: a public address anyone holding it can read the book at, until
it is revoked or expires. One link at a time per book."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from app.domain.errors import InvalidValue

LONGEST_LIFETIME = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ShareLink:
    id: UUID
    book_id: UUID
    created_at: datetime
    expires_at: datetime | None  # None: until revoked

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise InvalidValue("created_at", "must be timezone-aware")
        if self.expires_at is not None and self.expires_at <= self.created_at:
            raise InvalidValue("expires_in_days", "a link must expire after it is made")

    @classmethod
    def create(
        cls, link_id: UUID, book_id: UUID, now: datetime, lifetime: timedelta | None
    ) -> ShareLink:
        if lifetime is not None and not timedelta(days=1) <= lifetime <= LONGEST_LIFETIME:
            raise InvalidValue("expires_in_days", "must be between 1 and 365 days")
        return cls(link_id, book_id, now, None if lifetime is None else now + lifetime)

    def active_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at
