"""Contract tests of ProviderCapacity: the same tests on the unit tests' in-memory fake, on the
embedded fakeredis and on a real Redis (each run on its own key prefix)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis

from app.application.errors import RateLimited, StoreUnavailable
from app.application.ports import ProviderCapacity, ProviderWork
from app.infrastructure.provider_capacity import ProviderLimits, RedisProviderCapacity
from tests.integration.services import service_url
from tests.unit.fakes import FakeClock, InMemoryProviderCapacity

PAGE = ProviderWork(requests=2, images=1)
PICTURE = ProviderWork(images=1)
TEXT = ProviderWork(requests=1)
SECONDS = timedelta(seconds=1)


@dataclass
class Subject:
    make: Callable[[ProviderLimits], ProviderCapacity]
    clock: FakeClock
    redis: Redis | None
    prefix: str = ""


@contextlib.asynccontextmanager
async def on_redis(kind: str, clock: FakeClock) -> AsyncIterator[Subject]:
    if kind == "embedded":
        client: Redis = FakeAsyncRedis(server=FakeServer())
    else:
        client = Redis.from_url(
            service_url("LW_TEST_REDIS_URL"), socket_connect_timeout=2, socket_timeout=2
        )
    prefix = f"lw:test-provider:{uuid.uuid4().hex}"

    def make(limits: ProviderLimits) -> ProviderCapacity:
        return RedisProviderCapacity(
            client=client,
            limits=limits,
            key_prefix=prefix,
            clock=lambda: clock.now().timestamp(),
        )

    try:
        yield Subject(make, clock, client, prefix)
    finally:
        async for key in client.scan_iter(f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()


def a_clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))


@pytest.fixture(params=["fake", "embedded", "redis"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    clock = a_clock()
    if request.param == "fake":
        yield Subject(
            lambda limits: InMemoryProviderCapacity(limits=limits, clock=clock), clock, None
        )
        return
    async with on_redis(request.param, clock) as subject:
        yield subject


@pytest.fixture(params=["embedded", "redis"])
async def on_a_redis(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async with on_redis(request.param, a_clock()) as subject:
        yield subject


async def test_unlimited_work_never_waits(subject: Subject) -> None:
    capacity = subject.make(ProviderLimits())
    assert [await capacity.reserve(PAGE) for _ in range(50)] == [timedelta(0)] * 50


async def test_a_burst_is_spread_evenly_at_the_rate(subject: Subject) -> None:
    capacity = subject.make(ProviderLimits(images_per_minute=30))  # one every 2 s
    waits = [await capacity.reserve(PICTURE) for _ in range(4)]
    assert waits == [timedelta(seconds=s) for s in (0, 2, 4, 6)]


async def test_time_passing_frees_the_turns(subject: Subject) -> None:
    capacity = subject.make(ProviderLimits(images_per_minute=30))
    await capacity.reserve(PICTURE)
    await capacity.reserve(PICTURE)  # its turn is at 2 s
    subject.clock.advance(seconds=3)
    assert await capacity.reserve(PICTURE) == timedelta(seconds=1)
    subject.clock.advance(seconds=60)
    assert await capacity.reserve(PICTURE) == timedelta(0)  # idle time is not saved up


async def test_a_job_waits_for_the_scarcest_resource_it_uses(subject: Subject) -> None:
    capacity = subject.make(
        ProviderLimits(requests_per_minute=60, images_per_minute=10, tokens_per_request=1)
    )
    assert await capacity.reserve(PAGE) == timedelta(0)  # pictures free again in 6 s
    assert await capacity.reserve(TEXT) == timedelta(seconds=2)  # requests: 2 units of 1 s
    assert await capacity.reserve(PAGE) == timedelta(seconds=6)


async def test_tokens_are_counted_per_text_request(subject: Subject) -> None:
    capacity = subject.make(ProviderLimits(tokens_per_minute=6_000, tokens_per_request=1_500))
    assert await capacity.reserve(PAGE) == timedelta(0)  # 3,000 tokens: 30 s of the minute
    assert await capacity.reserve(PICTURE) == timedelta(0)  # no text, no tokens
    assert await capacity.reserve(PAGE) == timedelta(seconds=30)


async def test_a_turn_too_far_away_is_refused_and_reserves_nothing(subject: Subject) -> None:
    capacity = subject.make(
        ProviderLimits(images_per_minute=6, longest_wait=timedelta(seconds=15))
    )  # one every 10 s
    assert await capacity.reserve(PICTURE) == timedelta(0)
    assert await capacity.reserve(PICTURE) == timedelta(seconds=10)
    with pytest.raises(RateLimited) as refused:
        await capacity.reserve(PICTURE)  # 20 s away
    assert refused.value.retry_after_seconds == 5  # then it is 15 s away
    subject.clock.advance(seconds=5)
    assert await capacity.reserve(PICTURE) == timedelta(seconds=15)


async def test_reservations_at_once_each_get_their_own_turn(subject: Subject) -> None:
    capacity = subject.make(ProviderLimits(images_per_minute=60))
    waits = await asyncio.gather(*(capacity.reserve(PICTURE) for _ in range(20)))
    assert sorted(waits) == [timedelta(seconds=s) for s in range(20)]


async def test_turns_are_forgotten_once_they_pass(on_a_redis: Subject) -> None:
    capacity = on_a_redis.make(ProviderLimits(images_per_minute=60))
    await capacity.reserve(PICTURE)
    assert on_a_redis.redis is not None
    keys = [key async for key in on_a_redis.redis.scan_iter(f"{on_a_redis.prefix}:*")]
    ttls = [await on_a_redis.redis.pttl(key) for key in keys]
    assert keys and all(0 < ttl <= 2_000 for ttl in ttls)


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    capacity = RedisProviderCapacity(
        client=Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2),
        limits=ProviderLimits(images_per_minute=60),
    )
    with pytest.raises(StoreUnavailable):
        await capacity.reserve(PICTURE)
