"""Rate limits and daily quotas on generations, so one user (or the whole service) cannot spend
without bound; and the model provider's limits, which every job waits its turn under."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta

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
    """A generation is taken from the limits when it is accepted, before anything is paid for,
    and given back only if it produced nothing: a result that was paid for and then thrown away
    stays counted."""

    @abstractmethod
    async def take(self, user_id: UserId, cost: GenerationCost) -> None:
        """Count this generation against the user's rate limit and every daily quota (the
        user's and the whole service's), all of them or none in one atomic step: raise
        RateLimited, counting nothing, if any would go over. Raises StoreUnavailable when the
        counters cannot be reached."""

    @abstractmethod
    async def give_back(self, user_id: UserId, cost: GenerationCost) -> None:
        """Uncount a generation that produced nothing (a provider that failed, a request refused
        after it was taken) from the rate limit and the daily quotas it was taken from. Raises
        StoreUnavailable when the counters cannot be reached."""


@dataclass(frozen=True, slots=True)
class ProviderWork:
    """What one job asks of the model provider: text calls (a page's text and its questions, a
    cover's character sheet and questions) and pictures."""

    requests: int = 0
    images: int = 0

    def __post_init__(self) -> None:
        if self.requests < 0 or self.images < 0:
            raise ValueError("provider work cannot be negative")


class ProviderCapacity(ABC):
    """The model provider's own limits (requests and tokens a minute, pictures a minute), shared
    by every process: a job is given a turn at which its calls fit under them, so that a burst
    waits in the queue instead of failing with the provider's 429s."""

    @abstractmethod
    async def reserve(self, work: ProviderWork) -> timedelta:
        """Reserve the job's turn: how long it waits before it may start (zero when there is
        room now). Raises RateLimited, reserving nothing, when the wait would be longer than a
        child is asked to wait; StoreUnavailable when the reservations cannot be reached."""


class AddressLimits(ABC):
    """Requests per client address on what anyone may call without a token (share links)."""

    @abstractmethod
    async def hit(self, address: str) -> None:
        """Count a request from `address`; RateLimited when it is over the rate (it is counted
        anyway: a client that keeps hammering stays refused). StoreUnavailable when the
        counters cannot be reached."""
