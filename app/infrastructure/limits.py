"""GenerationLimits on Redis: a per-user rate limit on generations (moving window) and daily
quotas of pages and pictures, per user and for the whole service (fixed windows of one day, each
starting at its first count and lasting 24 hours).

Taking a generation is one Lua script (`take_limits.lua`) that checks every limit it concerns
and counts it against all of them, or against none, atomically: two requests at the same moment
cannot both pass the last unit of a quota, and a page costs one round trip to the limits, on the
service's own Redis client (its pool, timeouts and retries). Giving back what a generation that
produced nothing had taken is one more (`give_back_limits.lua`). The `limits` library did this
with one command per limit (five for a check, five more to count), each on its own pooled
connection, and could overshoot between the check and the count; its notation still parses the
rate setting, and its key and value layouts are kept, so counters survive the change.

The same scripts run on a real Redis (LW_REDIS_URL) and on the embedded fakeredis (through
lupa). The embedded snapshot keeps books and idempotency responses, not counters: a restart of an
embedded service starts every window afresh, which one machine can accept. Changing a limit's
amount starts its counters afresh (the amount is in the key). Every Redis failure becomes
StoreUnavailable."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib import resources

from limits import RateLimitItem, RateLimitItemPerDay, parse
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.application.errors import RateLimited, StoreUnavailable
from app.application.ports import AddressLimits, GenerationCost, GenerationLimits
from app.domain.values import UserId
from app.infrastructure.settings import Settings

KEY_PREFIX = "lw:limits"

Clock = Callable[[], float]


def _script(name: str) -> str:
    return resources.files("app.infrastructure.store").joinpath("scripts", name).read_text()


@contextlib.asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except (RedisError, OSError) as error:
        raise StoreUnavailable(f"the rate limit store failed: {type(error).__name__}") from error


def _every(item: RateLimitItem) -> str:
    """'a minute', 'every 5 minutes'."""
    name = item.GRANULARITY.name
    return f"a {name}" if item.multiples == 1 else f"every {item.multiples} {name}s"


@dataclass(frozen=True, slots=True)
class _Window:
    """What a refusing limit has left, and how long until it frees up."""

    remaining: int
    wait_ms: int


Refusal = Callable[[_Window, int], str]


@dataclass(frozen=True, slots=True)
class _Rule:
    """One limit that a generation counts against, and what a parent is told when it refuses."""

    kind: str  # "moving" or "fixed", as the scripts name them
    item: RateLimitItem
    identifiers: tuple[str, ...]
    cost: int
    refusal: Refusal

    def key(self, prefix: str) -> str:
        return f"{prefix}:{self.item.key_for(*self.identifiers)}"

    def arguments(self) -> tuple[str, int, int, int]:
        return self.kind, self.item.amount, self.item.get_expiry(), self.cost


def _too_fast(item: RateLimitItem) -> Refusal:
    def refusal(_window: _Window, _cost: int) -> str:
        return (
            f"Too many pages and pictures at once (at most {item.amount} {_every(item)}); "
            "wait a moment and try again."
        )

    return refusal


def _user_quota(noun: str, verb: str, limit: int) -> Refusal:
    def refusal(window: _Window, cost: int) -> str:
        if window.remaining <= 0:
            return f"You have {verb} {limit} {noun} today; come back tomorrow."
        return (
            f"Only {window.remaining} more {noun} can be {verb} today (of {limit}) and this "
            f"needs {cost}; come back tomorrow."
        )

    return refusal


def _service_quota(noun: str, verb: str) -> Refusal:
    def refusal(_window: _Window, _cost: int) -> str:
        return f"LittleWriter has {verb} all the {noun} it can for today; please come back later."

    return refusal


class RedisGenerationLimits(GenerationLimits):
    def __init__(
        self,
        *,
        client: Redis,
        rate: str,
        user_pages_per_day: int,
        user_images_per_day: int,
        service_pages_per_day: int,
        service_images_per_day: int,
        key_prefix: str = KEY_PREFIX,
        clock: Clock = time.time,
    ) -> None:
        self._take = client.register_script(_script("take_limits.lua"))
        self._give_back = client.register_script(_script("give_back_limits.lua"))
        self._prefix = key_prefix
        self._clock = clock
        self._rate = parse(rate)
        self._user_pages = RateLimitItemPerDay(user_pages_per_day)
        self._user_images = RateLimitItemPerDay(user_images_per_day)
        self._service_pages = RateLimitItemPerDay(service_pages_per_day)
        self._service_images = RateLimitItemPerDay(service_images_per_day)

    @classmethod
    def from_settings(
        cls,
        *,
        client: Redis,
        settings: Settings,
        key_prefix: str = KEY_PREFIX,
        clock: Clock = time.time,
    ) -> RedisGenerationLimits:
        return cls(
            client=client,
            rate=settings.rate_limit_generation,
            user_pages_per_day=settings.quota_user_pages_per_day,
            user_images_per_day=settings.quota_user_images_per_day,
            service_pages_per_day=settings.quota_service_pages_per_day,
            service_images_per_day=settings.quota_service_images_per_day,
            key_prefix=key_prefix,
            clock=clock,
        )

    def _rules(self, user_id: UserId, cost: GenerationCost) -> list[_Rule]:
        user = str(user_id)  # letters, digits and _ . @ - only: never the key's "/" separator
        rules = []
        if cost.generations:
            rules.append(
                _Rule(
                    "moving",
                    self._rate,
                    ("generations", "user", user),
                    cost.generations,
                    _too_fast(self._rate),
                )
            )
        if cost.pages:
            rules += [
                _Rule(
                    "fixed",
                    self._user_pages,
                    ("pages", "user", user),
                    cost.pages,
                    _user_quota("pages", "written", self._user_pages.amount),
                ),
                _Rule(
                    "fixed",
                    self._service_pages,
                    ("pages", "service"),
                    cost.pages,
                    _service_quota("pages", "written"),
                ),
            ]
        if cost.images:
            rules += [
                _Rule(
                    "fixed",
                    self._user_images,
                    ("images", "user", user),
                    cost.images,
                    _user_quota("pictures", "made", self._user_images.amount),
                ),
                _Rule(
                    "fixed",
                    self._service_images,
                    ("images", "service"),
                    cost.images,
                    _service_quota("pictures", "drawn"),
                ),
            ]
        return rules

    def _keys(self, rules: list[_Rule]) -> list[str]:
        return [rule.key(self._prefix) for rule in rules]

    def _arguments(self, rules: list[_Rule]) -> list[str | int]:
        arguments: list[str | int] = [repr(self._clock())]
        for rule in rules:
            arguments += rule.arguments()
        return arguments

    async def take(self, user_id: UserId, cost: GenerationCost) -> None:
        rules = self._rules(user_id, cost)
        if not rules:
            return
        async with _translated():
            answers = await self._take(keys=self._keys(rules), args=self._arguments(rules))
        refused = [
            (rule, _window(answer))
            for rule, answer in zip(rules, answers, strict=True)
            if answer not in ("", b"")
        ]
        if not refused:
            return
        # The generation can pass only once every refusing limit has freed up: name the last.
        rule, window = max(refused, key=lambda pair: pair[1].wait_ms)
        raise RateLimited(rule.refusal(window, rule.cost), max(1, math.ceil(window.wait_ms / 1000)))

    async def give_back(self, user_id: UserId, cost: GenerationCost) -> None:
        rules = self._rules(user_id, cost)
        if not rules:
            return
        async with _translated():
            await self._give_back(keys=self._keys(rules), args=self._arguments(rules))


def _window(answer: bytes | str) -> _Window:
    remaining, wait_ms = (answer.decode() if isinstance(answer, bytes) else answer).split()
    return _Window(int(remaining), int(wait_ms))


class RedisAddressLimits(AddressLimits):
    """A fixed window per address (one INCR, and its expiry set with the first), on the
    service's Redis: enough to stop a client guessing or hammering share links."""

    def __init__(
        self, *, client: Redis, rate: str, key_prefix: str = f"{KEY_PREFIX}:address"
    ) -> None:
        self._redis = client
        self._item = parse(rate)
        self._prefix = key_prefix

    async def hit(self, address: str) -> None:
        window = self._item.get_expiry()
        key = f"{self._prefix}:{self._item.amount}:{window}:{address}"
        async with _translated(), self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window, nx=True)
            pipe.pttl(key)
            count, _, left_ms = await pipe.execute()
        if count > self._item.amount:
            raise RateLimited(
                f"Too many requests for shared books (at most {self._item.amount} "
                f"{_every(self._item)}); wait a moment and try again.",
                retry_after_seconds=math.ceil(max(left_ms, 1000) / 1000),
            )
