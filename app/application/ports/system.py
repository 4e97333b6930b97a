"""Time and identity, passed into the domain so that it never reads them itself."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from uuid import UUID


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class IdGenerator(ABC):
    @abstractmethod
    def new_id(self) -> UUID: ...
