"""The events of users' books as clients read them: an ordered feed per user, resumable from
any event id it handed out, with a signal for new events."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from app.domain.values import UserId

# An id as the feed hands it out (`<milliseconds>-<sequence>`), or its milliseconds alone,
# which Redis reads as `<milliseconds>-0` (so `0` means "from the oldest event kept").
EVENT_ID_PATTERN = r"^([0-9]{1,19})(?:-([0-9]{1,19}))?$"
# The ids the feed hands out (a client may send back the milliseconds alone, never receives them).
SENT_EVENT_ID_PATTERN = r"^[0-9]{1,19}-[0-9]{1,19}$"
_EVENT_ID = re.compile(EVENT_ID_PATTERN)


def parse_event_id(value: str) -> tuple[int, int] | None:
    """An event id as a comparable pair, or None if it is not one this feed could hand out."""
    match = _EVENT_ID.fullmatch(value)
    return None if match is None else (int(match[1]), int(match[2] or 0))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    name: str
    data: dict[str, Any]

    @property
    def order(self) -> tuple[int, int]:
        parsed = parse_event_id(self.id)
        assert parsed is not None  # ids come from the feed itself
        return parsed


class EventSignal(ABC):
    """Wakes a reader when its user may have new events, and may hand it those events."""

    @abstractmethod
    def reset(self) -> None:
        """Forget earlier wake-ups; call it before reading, so none is missed after the read."""

    @abstractmethod
    async def wait(self, seconds: float) -> bool:
        """True when woken, False when `seconds` passed first."""

    @abstractmethod
    def take_after(self, cursor: str) -> list[StoredEvent] | None:
        """The events that woke this signal since its last reset that follow the id `cursor`
        with none missing between (an empty list when every one is at or before it), or None
        when that cannot be told: the reader then reads the feed. Resets the signal."""


class BookEventFeed(ABC):
    """Raises `StoreUnavailable` when the store behind it cannot be reached."""

    @abstractmethod
    async def read_after(self, user_id: UserId, after: str, limit: int) -> list[StoredEvent]:
        """Events after the id `after` ("0-0" for all that are kept), oldest first."""

    @abstractmethod
    async def bounds(self, user_id: UserId) -> tuple[str, str] | None:
        """The ids of the oldest and newest events kept, or None when none is."""

    @abstractmethod
    def listen(self, user_id: UserId) -> AbstractAsyncContextManager[EventSignal]:
        """A signal for the user's new events while the context is open."""
