from __future__ import annotations

import uuid
from datetime import UTC, datetime

from app.application.ports import Clock, IdGenerator


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds(IdGenerator):
    def new_id(self) -> uuid.UUID:
        return uuid.uuid4()
