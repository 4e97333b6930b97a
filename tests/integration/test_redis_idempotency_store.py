"""Contract tests of the idempotency-key store: the same tests on fakeredis and on a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from app.application.errors import StoreUnavailable
from app.application.ports import (
    Claimed,
    Completed,
    InProgress,
    KeyReused,
    StoredResponse,
)
from app.infrastructure.store.redis_idempotency import RedisIdempotencyStore, idempotency_key

LOCK = timedelta(seconds=30)
KEEP = timedelta(hours=24)
RESPONSE = StoredResponse(
    status=201,
    headers=(("Content-Type", "application/json"), ("Location", "/v1/books/current")),
    body='{"id":"b","title":"모모 🐰"}'.encode() + b"\x00\xff",
)


@pytest.fixture
def store(redis_client: Redis) -> RedisIdempotencyStore:
    return RedisIdempotencyStore(redis_client)


@pytest.fixture
def scope() -> str:
    """A caller of its own, so that runs against a shared real Redis never meet."""
    return f"user-{uuid.uuid4().hex[:12]}"


async def claimed(store: RedisIdempotencyStore, scope: str, key: str = "k-1") -> str:
    claim = await store.claim(scope, key, "fp-1", LOCK)
    assert isinstance(claim, Claimed)
    return claim.token


async def test_a_completed_key_replays_the_stored_response(
    store: RedisIdempotencyStore, scope: str
) -> None:
    token = await claimed(store, scope)
    await store.complete(scope, "k-1", token, "fp-1", RESPONSE, KEEP)
    assert await store.claim(scope, "k-1", "fp-1", LOCK) == Completed(RESPONSE)
    assert await store.claim(scope, "k-1", "fp-1", LOCK) == Completed(RESPONSE)


async def test_a_key_with_another_fingerprint_is_reused_whether_running_or_completed(
    store: RedisIdempotencyStore, scope: str
) -> None:
    token = await claimed(store, scope)
    assert await store.claim(scope, "k-1", "fp-2", LOCK) == KeyReused()
    await store.complete(scope, "k-1", token, "fp-1", RESPONSE, KEEP)
    assert await store.claim(scope, "k-1", "fp-2", LOCK) == KeyReused()


async def test_a_running_key_is_in_progress_for_the_rest_of_its_lock(
    store: RedisIdempotencyStore, scope: str
) -> None:
    await claimed(store, scope)
    claim = await store.claim(scope, "k-1", "fp-1", LOCK)
    assert isinstance(claim, InProgress)
    assert 29 <= claim.retry_after_seconds <= 30


async def test_concurrent_claims_of_one_key_let_exactly_one_win(
    store: RedisIdempotencyStore, scope: str
) -> None:
    claims = await asyncio.gather(*(store.claim(scope, "k-1", "fp-1", LOCK) for _ in range(20)))
    assert sum(isinstance(c, Claimed) for c in claims) == 1
    assert all(isinstance(c, InProgress) for c in claims if not isinstance(c, Claimed))


async def test_a_passed_lock_frees_the_key(store: RedisIdempotencyStore, scope: str) -> None:
    first = await store.claim(scope, "k-1", "fp-1", timedelta(milliseconds=200))
    assert isinstance(first, Claimed)
    await asyncio.sleep(0.4)
    second = await store.claim(scope, "k-1", "fp-2", LOCK)
    assert isinstance(second, Claimed) and second.token != first.token


async def test_a_released_key_can_be_claimed_again(
    store: RedisIdempotencyStore, scope: str
) -> None:
    token = await claimed(store, scope)
    await store.release(scope, "k-1", token)
    assert isinstance(await store.claim(scope, "k-1", "fp-1", LOCK), Claimed)


async def test_only_the_owner_releases_a_key(store: RedisIdempotencyStore, scope: str) -> None:
    token = await claimed(store, scope)
    await store.release(scope, "k-1", "not-the-token")
    assert isinstance(await store.claim(scope, "k-1", "fp-1", LOCK), InProgress)
    await store.complete(scope, "k-1", token, "fp-1", RESPONSE, KEEP)
    await store.release(scope, "k-1", token)
    assert await store.claim(scope, "k-1", "fp-1", LOCK) == Completed(RESPONSE)


async def test_a_stale_claim_neither_completes_nor_releases_a_newer_one(
    store: RedisIdempotencyStore, scope: str
) -> None:
    stale = await store.claim(scope, "k-1", "fp-1", timedelta(milliseconds=200))
    assert isinstance(stale, Claimed)
    await asyncio.sleep(0.4)
    fresh = await claimed(store, scope)
    await store.complete(scope, "k-1", stale.token, "fp-1", RESPONSE, KEEP)
    await store.release(scope, "k-1", stale.token)
    assert isinstance(await store.claim(scope, "k-1", "fp-1", LOCK), InProgress)
    await store.complete(scope, "k-1", fresh, "fp-1", RESPONSE, KEEP)
    assert await store.claim(scope, "k-1", "fp-1", LOCK) == Completed(RESPONSE)


async def test_complete_after_the_lock_passed_keeps_nothing(
    store: RedisIdempotencyStore, scope: str
) -> None:
    stale = await store.claim(scope, "k-1", "fp-1", timedelta(milliseconds=200))
    assert isinstance(stale, Claimed)
    await asyncio.sleep(0.4)
    await store.complete(scope, "k-1", stale.token, "fp-1", RESPONSE, KEEP)
    assert isinstance(await store.claim(scope, "k-1", "fp-1", LOCK), Claimed)


async def test_a_completed_response_is_kept_for_keep_and_no_longer(
    store: RedisIdempotencyStore, redis_client: Redis, scope: str
) -> None:
    token = await claimed(store, scope)
    assert 29_000 <= await redis_client.pttl(idempotency_key(scope, "k-1")) <= 30_000
    await store.complete(scope, "k-1", token, "fp-1", RESPONSE, KEEP)
    kept = await redis_client.pttl(idempotency_key(scope, "k-1"))
    assert KEEP.total_seconds() * 1000 - 1_000 <= kept <= KEEP.total_seconds() * 1000

    short = await claimed(store, scope, "k-2")
    await store.complete(scope, "k-2", short, "fp-1", RESPONSE, timedelta(milliseconds=200))
    await asyncio.sleep(0.4)
    assert isinstance(await store.claim(scope, "k-2", "fp-1", LOCK), Claimed)


async def test_keys_are_isolated_per_scope(store: RedisIdempotencyStore, scope: str) -> None:
    token = await claimed(store, scope)
    await store.complete(scope, "k-1", token, "fp-1", RESPONSE, KEEP)
    assert isinstance(await store.claim(f"{scope}-other", "k-1", "fp-2", LOCK), Claimed)
    assert await store.claim(scope, "k-1", "fp-1", LOCK) == Completed(RESPONSE)


async def test_any_visible_key_is_stored_under_its_hash(
    store: RedisIdempotencyStore, redis_client: Redis, scope: str
) -> None:
    key = "a:b/c*?[x]" + "~" * 200
    token = await claimed(store, scope, key)
    await store.complete(scope, key, token, "fp-1", RESPONSE, KEEP)
    names = [name async for name in redis_client.scan_iter(match=f"lw:idem:{scope}:*")]
    assert len(names) == 1 and len(names[0]) == len(f"lw:idem:{scope}:") + 64
    assert await store.claim(scope, key, "fp-1", LOCK) == Completed(RESPONSE)


async def test_unreachable_redis_is_store_unavailable() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    store = RedisIdempotencyStore(client)
    try:
        with pytest.raises(StoreUnavailable):
            await store.claim("someone", "k-1", "fp-1", LOCK)
        with pytest.raises(StoreUnavailable):
            await store.complete("someone", "k-1", "t", "fp-1", RESPONSE, KEEP)
        with pytest.raises(StoreUnavailable):
            await store.release("someone", "k-1", "t")
    finally:
        await client.aclose()
