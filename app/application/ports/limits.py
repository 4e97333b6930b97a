"""Rate limits and daily quotas on generations, so one user (or the whole service) cannot spend
without bound."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from app.domain.values import UserId


@dataclass(frozen=True, slots=True)
class GenerationCost:
    """What one generation spends: `generations` against the rate limit (the picture of a page
    written text-first is part of the page's one generation), pages and images against the
    daily quotas. A dimension at 0 is not counted."""

    pages: int = 0
    images: int = 0
    generations: int = 1

    def __post_init__(self) -> None:
        if self.pages < 0 or self.images < 0 or self.generations < 0:
            raise ValueError("a generation cost cannot be negative")


class GenerationLimits(ABC):
    @abstractmethod
    async def check(self, user_id: UserId, cost: GenerationCost) -> None:
        """Raise RateLimited if this generation would go over the user's rate limit or any daily
        quota (the user's or the whole service's). Consumes nothing. Raises StoreUnavailable when
        the counters cannot be read."""

    @abstractmethod
    async def record(self, user_id: UserId, cost: GenerationCost) -> None:
        """Count a generation that succeeded (a failed one is never counted). Raises
        StoreUnavailable when the counters cannot be written."""
