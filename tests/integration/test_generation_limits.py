"""Contract tests of the generation limits: the same tests on the embedded fakeredis and on a
real Redis, each on its own key prefix and user ids so that runs sharing a Redis never meet."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis

from app.application.errors import RateLimited, StoreUnavailable
from app.application.ports import GenerationCost, GenerationLimits
from app.domain.values import UserId
from app.infrastructure.limits import RedisGenerationLimits
from app.infrastructure.settings import Settings
from tests.integration.services import service_url

RATE = 3
PAGE = GenerationCost(pages=1)
PICTURE = GenerationCost(images=1)
DAY = 86_400

Build = Callable[..., Awaitable[GenerationLimits]]


def a_user() -> UserId:
    return UserId(f"user-{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["embedded", "redis"])
async def build(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Build]:
    """Makes generation limits with the given settings, as the composition root does."""
    redis_url: str | None = None
    if request.param == "embedded":
        client: Redis = FakeAsyncRedis(server=FakeServer())
    else:
        redis_url = service_url("LW_TEST_REDIS_URL")
        client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    prefix = f"lw:test-limits:{uuid.uuid4().hex}"

    async def make(clock: Callable[[], float] = time.time, **quotas: int | str) -> GenerationLimits:
        values: dict[str, Any] = {
            "rate_limit_generation": f"{RATE}/minute",
            "quota_user_pages_per_day": 100,
            "quota_user_images_per_day": 100,
            "quota_service_pages_per_day": 10_000,
            "quota_service_images_per_day": 10_000,
            **quotas,
        }
        settings = Settings(data_dir=tmp_path, redis_url=redis_url, **values)
        return RedisGenerationLimits.from_settings(
            client=client, settings=settings, key_prefix=prefix, clock=clock
        )

    yield make
    if redis_url is not None:
        async for key in client.scan_iter(match=f"{prefix}:*", count=500):
            await client.delete(key)
    await client.aclose()


async def take_times(
    limits: GenerationLimits, user: UserId, cost: GenerationCost, times: int
) -> None:
    for _ in range(times):
        await limits.take(user, cost)


async def test_a_generation_under_every_limit_passes(build: Build) -> None:
    limits = await build()
    user = a_user()
    await limits.take(user, GenerationCost(pages=1, images=2))
    await limits.take(user, GenerationCost(pages=1, images=2))


async def test_refuses_the_generation_over_the_rate_with_a_retry_after_within_the_window(
    build: Build,
) -> None:
    limits = await build()
    user = a_user()
    await take_times(limits, user, PAGE, RATE)
    with pytest.raises(RateLimited, match="Too many") as refused:
        await limits.take(user, PAGE)
    assert 0 < refused.value.retry_after_seconds <= 60


async def test_the_rate_counts_generations_whatever_they_cost(build: Build) -> None:
    limits = await build()
    user = a_user()
    await limits.take(user, GenerationCost())
    await limits.take(user, GenerationCost(pages=1, images=5))
    await limits.take(user, PICTURE)
    with pytest.raises(RateLimited, match="Too many"):
        await limits.take(user, GenerationCost())


async def test_a_refused_generation_counts_against_no_limit(build: Build) -> None:
    limits = await build(rate_limit_generation="1000/minute", quota_user_pages_per_day=2)
    user = a_user()
    await limits.take(user, GenerationCost(images=1))
    for _ in range(5):  # pages over the quota: neither the rate nor the pictures count them
        with pytest.raises(RateLimited):
            await limits.take(user, GenerationCost(pages=3, images=1))
    await limits.take(user, GenerationCost(pages=2, images=99))


async def test_takes_at_the_same_moment_never_overshoot_a_quota(build: Build) -> None:
    limits = await build(rate_limit_generation="1000/minute", quota_user_pages_per_day=3)
    user = a_user()
    results = await asyncio.gather(
        *(limits.take(user, PAGE) for _ in range(10)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 3
    assert all(isinstance(r, RateLimited) for r in results if r is not None)


async def test_what_is_given_back_can_be_taken_again(build: Build) -> None:
    limits = await build(rate_limit_generation="2/minute", quota_user_pages_per_day=1)
    user = a_user()
    await limits.take(user, PAGE)
    with pytest.raises(RateLimited, match="You have written 1 pages today"):
        await limits.take(user, GenerationCost(pages=1, generations=0))
    for _ in range(5):  # failed generations count against neither the quota nor the rate
        await limits.give_back(user, PAGE)
        await limits.take(user, PAGE)
    await limits.take(user, GenerationCost(generations=1))
    with pytest.raises(RateLimited, match="Too many"):
        await limits.take(user, GenerationCost(generations=1))


async def test_giving_back_more_than_was_taken_leaves_the_quota_at_zero(build: Build) -> None:
    limits = await build(rate_limit_generation="1000/minute", quota_user_images_per_day=2)
    user = a_user()
    await limits.give_back(user, PICTURE)  # nothing taken today: nothing to give back
    await limits.take(user, PICTURE)
    await limits.give_back(user, GenerationCost(images=5))
    await take_times(limits, user, PICTURE, 2)
    with pytest.raises(RateLimited, match="You have made 2 pictures today"):
        await limits.take(user, PICTURE)


async def test_refuses_a_page_over_the_users_daily_quota(build: Build) -> None:
    limits = await build(rate_limit_generation="1000/minute", quota_user_pages_per_day=5)
    user = a_user()
    await limits.take(user, GenerationCost(pages=3))
    with pytest.raises(RateLimited, match=r"Only 2 more pages .* this needs 3") as partly:
        await limits.take(user, GenerationCost(pages=3))
    assert 0 < partly.value.retry_after_seconds <= DAY
    await limits.take(user, GenerationCost(pages=2))
    with pytest.raises(RateLimited, match="You have written 5 pages today") as used_up:
        await limits.take(user, PAGE)
    assert DAY - 60 < used_up.value.retry_after_seconds <= DAY


async def test_refuses_a_picture_over_the_users_daily_quota(build: Build) -> None:
    limits = await build(rate_limit_generation="1000/minute", quota_user_images_per_day=4)
    user = a_user()
    await take_times(limits, user, GenerationCost(images=2), 2)
    with pytest.raises(RateLimited, match="You have made 4 pictures today") as refused:
        await limits.take(user, PICTURE)
    assert DAY - 60 < refused.value.retry_after_seconds <= DAY


async def test_refuses_pages_over_the_service_quota_across_users(build: Build) -> None:
    limits = await build(quota_service_pages_per_day=4)
    first, second = a_user(), a_user()
    await take_times(limits, first, PAGE, 3)
    with pytest.raises(RateLimited, match="all the pages it can") as refused:
        await limits.take(second, GenerationCost(pages=2))
    assert 0 < refused.value.retry_after_seconds <= DAY
    await limits.take(second, PAGE)
    with pytest.raises(RateLimited, match="all the pages it can"):
        await limits.take(a_user(), PAGE)


async def test_refuses_pictures_over_the_service_quota_across_users(build: Build) -> None:
    limits = await build(quota_service_images_per_day=3)
    await limits.take(a_user(), GenerationCost(images=3))
    with pytest.raises(RateLimited, match="all the pictures it can"):
        await limits.take(a_user(), PICTURE)
    await limits.take(a_user(), PAGE)


async def test_a_zero_cost_dimension_is_not_counted_or_checked(build: Build) -> None:
    limits = await build(
        rate_limit_generation="1000/minute",
        quota_user_pages_per_day=2,
        quota_user_images_per_day=2,
    )
    user = a_user()
    await take_times(limits, user, PAGE, 2)
    await take_times(limits, user, PICTURE, 2)
    # Both quotas are used up, yet a cost that leaves one at 0 is only checked on the other.
    with pytest.raises(RateLimited, match="pages"):
        await limits.take(user, PAGE)
    with pytest.raises(RateLimited, match="pictures"):
        await limits.take(user, PICTURE)
    await limits.take(user, GenerationCost())

    other = a_user()
    await take_times(limits, other, PAGE, 2)
    await limits.take(other, GenerationCost(images=2))


async def test_the_longest_wait_is_named_when_several_limits_refuse(build: Build) -> None:
    limits = await build(quota_user_pages_per_day=RATE)
    user = a_user()
    await take_times(limits, user, PAGE, RATE)
    with pytest.raises(RateLimited, match="You have written 3 pages today") as refused:
        await limits.take(user, PAGE)
    assert refused.value.retry_after_seconds > 60


async def test_one_users_limits_leave_another_user_alone(build: Build) -> None:
    limits = await build(quota_user_pages_per_day=RATE, quota_user_images_per_day=RATE)
    spent, fresh = a_user(), a_user()
    await take_times(limits, spent, GenerationCost(pages=1, images=1), RATE)
    with pytest.raises(RateLimited):
        await limits.take(spent, GenerationCost(pages=1, images=1))
    await limits.take(fresh, GenerationCost(pages=RATE, images=RATE))


async def test_unreachable_redis_is_store_unavailable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limits = RedisGenerationLimits.from_settings(client=client, settings=settings)
    try:
        with pytest.raises(StoreUnavailable):
            await limits.take(a_user(), GenerationCost(pages=1, images=1))
        with pytest.raises(StoreUnavailable):
            await limits.give_back(a_user(), GenerationCost(pages=1, images=1))
    finally:
        await client.aclose()


async def test_the_rate_window_moves_with_the_clock(build: Build) -> None:
    now = [1_800_000_000.0]
    limits = await build(clock=lambda: now[0])
    user = a_user()
    await take_times(limits, user, PAGE, RATE)
    now[0] += 30
    with pytest.raises(RateLimited, match="Too many") as refused:
        await limits.take(user, PAGE)
    assert refused.value.retry_after_seconds == 30  # when the first of the three leaves
    now[0] += 30.5
    await limits.take(user, PAGE)


class CountingRedis(FakeAsyncRedis):
    """Counts the commands sent, scripts included (one EVALSHA each)."""

    sent: list[str]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]))
        return await super().execute_command(*args, **options)


async def test_taking_and_giving_back_are_one_round_trip_each(tmp_path: Path) -> None:
    client = CountingRedis(server=FakeServer())
    client.sent = []
    limits = RedisGenerationLimits.from_settings(
        client=client, settings=Settings(data_dir=tmp_path)
    )
    user = a_user()
    await limits.take(user, GenerationCost(pages=1, images=1))  # five limits
    await limits.give_back(user, GenerationCost(pages=1, images=1))
    # The first run of each script loads it (EVALSHA refused, SCRIPT LOAD, EVALSHA).
    client.sent.clear()
    await limits.take(user, GenerationCost(pages=1, images=1))
    await limits.give_back(user, GenerationCost(pages=1, images=1))
    assert client.sent == ["EVALSHA", "EVALSHA"]
    await client.aclose()


async def test_counts_are_kept_in_the_limits_librarys_layout(tmp_path: Path) -> None:
    """Counters written before this adapter replaced the `limits` library's limiters still count."""
    from limits import RateLimitItemPerDay, RateLimitItemPerMinute
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

    client: Redis = FakeAsyncRedis(server=FakeServer())
    storage = RedisStorage(
        "async+redis://", implementation="redispy", connection_pool=client.connection_pool
    )
    user = a_user()
    await MovingWindowRateLimiter(storage).hit(
        RateLimitItemPerMinute(3), "generations", "user", str(user), cost=3
    )
    await FixedWindowRateLimiter(storage).hit(
        RateLimitItemPerDay(5), "pages", "user", str(user), cost=5
    )
    limits = RedisGenerationLimits.from_settings(
        client=client,
        settings=Settings(
            data_dir=tmp_path, rate_limit_generation="3/minute", quota_user_pages_per_day=5
        ),
        key_prefix=RedisStorage.PREFIX,
    )
    with pytest.raises(RateLimited, match="You have written 5 pages today"):
        await limits.take(user, PAGE)
    with pytest.raises(RateLimited, match="Too many"):
        await limits.take(user, GenerationCost())
    await client.aclose()


def test_a_negative_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        GenerationCost(pages=-1)
