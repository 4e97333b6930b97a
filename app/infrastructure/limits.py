"""GenerationLimits on the `limits` library: a per-user rate limit on generations (moving window)
and daily quotas of pages and pictures, per user and for the whole service (fixed windows of one
day, each starting at its first count and lasting 24 hours).

Storage:
- With a real Redis (LW_REDIS_URL) the counters live in that Redis under the key prefix
  `lw:limits`, through limits' async RedisStorage on its redis-py bridge. It runs on the
  connection pool of the service's own Redis client, so it reaches the same server with the same
  timeouts and the composition root closes that pool; the callback returned here closes nothing.
- Embedded (no LW_REDIS_URL) the counters live in limits' in-process MemoryStorage: the embedded
  fakeredis (which runs Lua through `lupa`) could carry them, but it lives in the same process and
  its snapshot keeps books and idempotency responses, not counters, so it would only be slower.
  A restart of an embedded service starts every window afresh; embedded mode is one machine,
  where that is acceptable.

A check and the record that follows it are two steps, not one atomic one: generations that run
at the same moment for the same user can each pass the check and together overshoot a limit by
that many. Changing a limit's amount starts its counters afresh (limits puts it in the key).
Every storage failure, the library's own wrapped StorageError or a raw redis-py error, becomes
StoreUnavailable."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from limits import RateLimitItem, RateLimitItemPerDay, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from limits.errors import StorageError
from limits.util import WindowStats
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from app.application.errors import RateLimited, StoreUnavailable
from app.application.ports import GenerationCost, GenerationLimits
from app.domain.values import UserId
from app.infrastructure.settings import Settings

T = TypeVar("T")
_STALE_RETRIES = 3

KEY_PREFIX = "lw:limits"

Close = Callable[[], Awaitable[None]]


@contextlib.asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except StorageError as error:
        cause = type(error.storage_error).__name__
        raise StoreUnavailable(f"the rate limit store failed: {cause}") from error
    except (RedisError, OSError) as error:
        # limits wraps only some of its storage calls; the moving window's reach us unwrapped.
        raise StoreUnavailable(f"the rate limit store failed: {type(error).__name__}") from error


def _every(item: RateLimitItem) -> str:
    """'a minute', 'every 5 minutes'."""
    name = item.GRANULARITY.name
    return f"a {name}" if item.multiples == 1 else f"every {item.multiples} {name}s"


@dataclass(frozen=True, slots=True)
class _Rule:
    """One limit that a generation counts against, and what a parent is told when it refuses."""

    limiter: RateLimiter
    item: RateLimitItem
    identifiers: tuple[str, ...]
    cost: int
    refusal: Callable[[WindowStats, int], str]

    async def allows(self) -> bool:
        return await self.limiter.test(self.item, *self.identifiers, cost=self.cost)

    async def hit(self) -> None:
        # A fixed window always counts; a full moving window drops the hit, which can only
        # happen to generations that passed their check together.
        await self.limiter.hit(self.item, *self.identifiers, cost=self.cost)

    async def stats(self) -> WindowStats:
        return await self.limiter.get_window_stats(self.item, *self.identifiers)


def _too_fast(item: RateLimitItem) -> Callable[[WindowStats, int], str]:
    def refusal(_stats: WindowStats, _cost: int) -> str:
        return (
            f"Too many pages and pictures at once (at most {item.amount} {_every(item)}); "
            "wait a moment and try again."
        )

    return refusal


def _user_quota(noun: str, verb: str, limit: int) -> Callable[[WindowStats, int], str]:
    def refusal(stats: WindowStats, cost: int) -> str:
        if stats.remaining <= 0:
            return f"You have {verb} {limit} {noun} today; come back tomorrow."
        return (
            f"Only {stats.remaining} more {noun} can be {verb} today (of {limit}) and this "
            f"needs {cost}; come back tomorrow."
        )

    return refusal


def _service_quota(noun: str, verb: str) -> Callable[[WindowStats, int], str]:
    def refusal(_stats: WindowStats, _cost: int) -> str:
        return f"LittleWriter has {verb} all the {noun} it can for today; please come back later."

    return refusal


class LimitsGenerationLimits(GenerationLimits):
    def __init__(
        self,
        storage: Storage,
        *,
        rate: str,
        user_pages_per_day: int,
        user_images_per_day: int,
        service_pages_per_day: int,
        service_images_per_day: int,
    ) -> None:
        self._moving = MovingWindowRateLimiter(storage)
        self._fixed = FixedWindowRateLimiter(storage)
        self._rate = parse(rate)
        self._user_pages = RateLimitItemPerDay(user_pages_per_day)
        self._user_images = RateLimitItemPerDay(user_images_per_day)
        self._service_pages = RateLimitItemPerDay(service_pages_per_day)
        self._service_images = RateLimitItemPerDay(service_images_per_day)

    @classmethod
    def from_settings(cls, storage: Storage, settings: Settings) -> LimitsGenerationLimits:
        return cls(
            storage,
            rate=settings.rate_limit_generation,
            user_pages_per_day=settings.quota_user_pages_per_day,
            user_images_per_day=settings.quota_user_images_per_day,
            service_pages_per_day=settings.quota_service_pages_per_day,
            service_images_per_day=settings.quota_service_images_per_day,
        )

    def _rules(self, user_id: UserId, cost: GenerationCost) -> list[_Rule]:
        user = str(user_id)  # letters, digits and _ . @ - only: never the key's "/" separator
        rules = []
        if cost.generations:
            rules.append(
                _Rule(
                    self._moving,
                    self._rate,
                    ("generations", "user", user),
                    cost.generations,
                    _too_fast(self._rate),
                )
            )
        if cost.pages:
            rules += [
                _Rule(
                    self._fixed,
                    self._user_pages,
                    ("pages", "user", user),
                    cost.pages,
                    _user_quota("pages", "written", self._user_pages.amount),
                ),
                _Rule(
                    self._fixed,
                    self._service_pages,
                    ("pages", "service"),
                    cost.pages,
                    _service_quota("pages", "written"),
                ),
            ]
        if cost.images:
            rules += [
                _Rule(
                    self._fixed,
                    self._user_images,
                    ("images", "user", user),
                    cost.images,
                    _user_quota("pictures", "made", self._user_images.amount),
                ),
                _Rule(
                    self._fixed,
                    self._service_images,
                    ("images", "service"),
                    cost.images,
                    _service_quota("pictures", "drawn"),
                ),
            ]
        return rules

    async def check(self, user_id: UserId, cost: GenerationCost) -> None:
        rules = self._rules(user_id, cost)
        async with _translated():
            allowed = await _once_more_on_a_stale_connection(
                lambda: asyncio.gather(*(rule.allows() for rule in rules))
            )
            refused = [rule for rule, ok in zip(rules, allowed, strict=True) if not ok]
            if not refused:
                return
            stats = await asyncio.gather(*(rule.stats() for rule in refused))
        # The generation can pass only once every refusing limit has freed up: name the last.
        rule, window = max(zip(refused, stats, strict=True), key=lambda pair: pair[1].reset_time)
        raise RateLimited(
            rule.refusal(window, rule.cost), math.ceil(window.reset_time - time.time())
        )

    async def record(self, user_id: UserId, cost: GenerationCost) -> None:
        rules = self._rules(user_id, cost)
        async with _translated():
            await _once_more_on_a_stale_connection(
                lambda: asyncio.gather(*(rule.hit() for rule in rules))
            )


async def _once_more_on_a_stale_connection(call: Callable[[], Awaitable[T]]) -> T:
    """After Redis restarts, the first command on each pooled connection fails, and limits'
    client does not retry it as the service's client does: a few more tries here."""
    for _ in range(_STALE_RETRIES):
        try:
            return await call()
        except (StorageError, RedisConnectionError):
            continue  # each failure drops one stale connection from the pool
    return await call()


async def build_generation_limits(
    settings: Settings, redis: Redis, *, key_prefix: str = KEY_PREFIX
) -> tuple[GenerationLimits, Close]:
    """The generation limits for these settings and their close callback. `redis` is the
    service's Redis client: its connection pool carries the counters on a real Redis; it is not
    used in embedded mode (see the module docstring)."""
    if settings.redis_url is None:
        memory = MemoryStorage(wrap_exceptions=True)
        return LimitsGenerationLimits.from_settings(memory, settings), _closer(memory)
    # The URI only picks limits' Redis bridge: connections come from the shared pool, which
    # already points at settings.redis_url (whatever its scheme: redis, rediss or unix).
    shared: dict[str, Any] = {"connection_pool": redis.connection_pool}
    storage = RedisStorage(
        "async+redis://",
        implementation="redispy",
        key_prefix=key_prefix,
        wrap_exceptions=True,
        **shared,
    )
    return LimitsGenerationLimits.from_settings(storage, settings), _nothing_to_close


def _closer(memory: MemoryStorage) -> Close:
    async def close() -> None:
        # MemoryStorage expires old windows in a background task; do not leave it pending.
        timer = memory.timer
        if timer is not None and not timer.done():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    return close


async def _nothing_to_close() -> None:
    """The shared connection pool belongs to the caller's Redis client."""
