"""Where the admins' actions are written down."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from app.domain.audit import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of the audit log, newest first; `next_cursor` is None on the last one."""

    items: list[AuditEntry]
    next_cursor: str | None


class AdminAuditLog(ABC):
    """Raises `DatabaseUnavailable` when the database cannot be reached."""

    @abstractmethod
    async def record(self, entry: AuditEntry) -> None:
        """Keep the entry (an entry with the same id is kept once)."""

    @abstractmethod
    async def entries(self, limit: int, cursor: str | None) -> AuditPage:
        """Newest first (`at`, then id, both descending). A cursor is a `next_cursor` this
        returned, matching `CURSOR_PATTERN`; any other raises `InvalidCursor`."""
