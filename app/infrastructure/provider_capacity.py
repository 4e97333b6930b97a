"""ProviderCapacity on Redis: each job's turn under the model provider's limits, reserved by one
Lua script (`reserve_provider_capacity.lua`) shared by every process on the same Redis.

The `limits` library (used for the per-user limits) answers "now, or refused"; a job that must
wait its turn needs "when", so the turn is a small GCRA-style reservation: each resource keeps
the moment it is next free, and a job's units push it on by their share of a minute. The same
script runs on a real Redis and on the embedded fakeredis (through lupa). With no provider limit
set there is nothing to reserve and Redis is not asked."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.application.errors import RateLimited, StoreUnavailable
from app.application.ports import ProviderCapacity, ProviderWork
from app.infrastructure.settings import Settings

KEY_PREFIX = "lw:provider"  # and the job queue's name: deployments sharing a Redis keep apart
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    """The provider's limits a minute (None: not limited), and what a text call is counted as
    against the tokens limit (an estimate: a call's tokens are known only after it)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    images_per_minute: int | None = None
    tokens_per_request: int = 1_500
    longest_wait: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderLimits:
        return cls(
            requests_per_minute=settings.provider_requests_per_minute,
            tokens_per_minute=settings.provider_tokens_per_minute,
            images_per_minute=settings.provider_images_per_minute,
            tokens_per_request=settings.provider_tokens_per_request,
            longest_wait=timedelta(seconds=settings.provider_longest_wait_seconds),
        )

    def rules(self, work: ProviderWork) -> list[tuple[str, float, int]]:
        """(resource, milliseconds per unit, units) for each limited resource the work uses."""
        wanted = (
            ("requests", self.requests_per_minute, work.requests),
            ("tokens", self.tokens_per_minute, work.requests * self.tokens_per_request),
            ("images", self.images_per_minute, work.images),
        )
        return [
            (name, MINUTE_MS / limit, units) for name, limit, units in wanted if limit and units
        ]


class RedisProviderCapacity(ProviderCapacity):
    def __init__(
        self,
        *,
        client: Redis,
        limits: ProviderLimits,
        key_prefix: str = KEY_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._reserve = client.register_script(
            resources.files("app.infrastructure.store")
            .joinpath("scripts", "reserve_provider_capacity.lua")
            .read_text()
        )
        self._limits = limits
        self._prefix = key_prefix
        self._clock = clock

    async def reserve(self, work: ProviderWork) -> timedelta:
        rules = self._limits.rules(work)
        if not rules:
            return timedelta(0)
        longest_ms = self._limits.longest_wait.total_seconds() * 1000
        arguments: list[float | int] = [math.floor(self._clock() * 1000), longest_ms]
        for _name, per_unit_ms, units in rules:
            arguments += [per_unit_ms, units]
        try:
            reserved, wait_ms = await self._reserve(
                keys=[f"{self._prefix}:{name}" for name, _, _ in rules], args=arguments
            )
        except (RedisError, OSError) as error:
            raise StoreUnavailable(
                f"the provider's rate reservations failed: {type(error).__name__}"
            ) from error
        if not reserved:
            over_ms = wait_ms - longest_ms  # from then on the wait fits
            minutes = max(1, math.ceil(over_ms / MINUTE_MS))
            raise RateLimited(
                "So many stories are being written right now that this one would wait more "
                f"than {self._limits.longest_wait.total_seconds() / 60:g} minutes; "
                f"try again in about {minutes} minute{'s' if minutes > 1 else ''}.",
                retry_after_seconds=math.ceil(over_ms / 1000),
            )
        return timedelta(milliseconds=int(wait_ms))
