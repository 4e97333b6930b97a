"""What an admin did: one entry of the audit log per admin action that succeeded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from app.domain.errors import InvalidValue
from app.domain.values import UserId

DetailValue = str | int | bool | None


class AdminAction(StrEnum):
    FINISH = "finish"
    TAKEDOWN = "takedown"
    VIEW_BOOK_IN_PROGRESS = "view_book_in_progress"
    VIEW_BOOK = "view_book"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who (`admin_id`, the admin token's subject), what (`action`, on whose book) and when."""

    id: UUID
    at: datetime
    admin_id: UserId
    action: AdminAction
    user_id: UserId | None = None
    book_id: UUID | None = None
    detail: Mapping[str, DetailValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidValue("at", "must be timezone-aware")
