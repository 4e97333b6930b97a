"""The fault proxy between redis-py and a real Redis: each fault does what the tests rely on."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as SyncRetry

from tests.fault_proxy import Action, Fault, FaultProxy, ThreadedFaultProxy, command
from tests.integration.services import service_url

pytestmark = pytest.mark.services

EXEC = command("EXEC")


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


@pytest.fixture
def redis_url() -> str:
    return service_url("LW_TEST_REDIS_URL")


@pytest.fixture
async def direct(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_timeout=2)
    yield client
    await client.aclose()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(*host_and_port(redis_url)) as proxy:
        yield proxy


@pytest.fixture
async def via_proxy(proxy: FaultProxy) -> AsyncIterator[Redis]:
    # No retries: a retried transaction would hide the fault (and apply the SET twice).
    client = Redis.from_url(proxy.url, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    yield client
    await client.aclose()


@pytest.fixture
async def key(direct: Redis) -> AsyncIterator[str]:
    name = f"lw-test:fault-proxy:{uuid.uuid4().hex}"
    yield name
    await direct.delete(name)


async def transactional_set(client: Redis, key: str) -> None:
    async with client.pipeline(transaction=True) as pipe:
        pipe.set(key, "applied", ex=60)
        await pipe.execute()


def test_command_is_the_resp_bulk_string_of_the_name() -> None:
    assert command("EXEC") == b"$4\r\nEXEC\r\n"
    assert command("SET") == b"$3\r\nSET\r\n"


async def test_bytes_pass_through_both_ways(via_proxy: Redis, direct: Redis, key: str) -> None:
    await via_proxy.set(key, "through")
    assert await via_proxy.get(key) == b"through"
    assert await direct.get(key) == b"through"
    await transactional_set(via_proxy, key)
    assert await direct.get(key) == b"applied"


async def test_drop_reply_and_reset_raises_yet_the_transaction_is_applied(
    proxy: FaultProxy, via_proxy: Redis, direct: Redis, key: str
) -> None:
    fault = proxy.arm(Fault(EXEC, Action.DROP_REPLY_AND_RESET))
    with pytest.raises(RedisConnectionError):
        await transactional_set(via_proxy, key)
    assert await direct.get(key) == b"applied"
    assert fault.fired == 1
    # One-shot: the next transaction goes through on a new connection.
    await transactional_set(via_proxy, key)
    assert fault.fired == 1 and proxy.connections == 2


async def test_reset_before_forward_raises_and_nothing_is_applied(
    proxy: FaultProxy, via_proxy: Redis, direct: Redis, key: str
) -> None:
    fault = proxy.arm(Fault(EXEC, Action.RESET_BEFORE_FORWARD))
    with pytest.raises(RedisConnectionError):
        await transactional_set(via_proxy, key)
    assert fault.fired == 1
    assert await direct.get(key) is None


async def test_drop_reply_and_stall_times_out_yet_the_transaction_is_applied(
    proxy: FaultProxy, via_proxy: Redis, direct: Redis, key: str
) -> None:
    fault = proxy.arm(Fault(EXEC, Action.DROP_REPLY_AND_STALL))
    started = time.monotonic()
    with pytest.raises(RedisTimeoutError):
        await transactional_set(via_proxy, key)
    assert 0.4 < time.monotonic() - started < 2
    assert fault.fired == 1
    assert await direct.get(key) == b"applied"


async def test_release_ends_a_stalled_connection(
    proxy: FaultProxy, redis_url: str, key: str
) -> None:
    proxy.arm(Fault(command("SET"), Action.DROP_REPLY_AND_STALL))
    patient = Redis.from_url(proxy.url, socket_timeout=10, retry=Retry(NoBackoff(), 0))
    try:
        call = asyncio.ensure_future(patient.set(key, "x"))
        await asyncio.sleep(0.2)
        assert not call.done()
        proxy.release()
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(call, 2)
    finally:
        await patient.aclose()


async def test_delay_reply_delivers_the_reply_late(
    proxy: FaultProxy, direct: Redis, key: str
) -> None:
    proxy.arm(Fault(command("GET"), Action.DELAY_REPLY, seconds=0.3))
    await direct.set(key, "late", ex=60)
    client = Redis.from_url(proxy.url, socket_timeout=2, retry=Retry(NoBackoff(), 0))
    try:
        started = time.monotonic()
        assert await client.get(key) == b"late"
        assert 0.3 <= time.monotonic() - started < 1.5
        started = time.monotonic()
        assert await client.get(key) == b"late"
        assert time.monotonic() - started < 0.2
    finally:
        await client.aclose()


async def test_a_fault_fires_as_many_times_as_armed(
    proxy: FaultProxy, via_proxy: Redis, direct: Redis, key: str
) -> None:
    fault = proxy.arm(Fault(command("incrby"), Action.RESET_BEFORE_FORWARD, times=2))
    for _ in range(2):
        with pytest.raises(RedisConnectionError):
            await via_proxy.incr(key)
    assert await via_proxy.incr(key) == 1
    assert fault.fired == 2 and not fault.armed


async def test_reset_all_breaks_every_open_connection(proxy: FaultProxy, key: str) -> None:
    clients = [
        Redis.from_url(proxy.url, socket_timeout=10, retry=Retry(NoBackoff(), 0)) for _ in range(2)
    ]
    try:
        waits = [asyncio.ensure_future(client.blpop([key], timeout=5)) for client in clients]
        await asyncio.sleep(0.2)
        assert proxy.connections == 2
        proxy.reset_all()
        for wait in waits:
            with pytest.raises(RedisConnectionError):
                await asyncio.wait_for(wait, 2)
    finally:
        for client in clients:
            await client.aclose()


def test_threaded_proxy_serves_sync_clients(redis_url: str) -> None:
    key = f"lw-test:fault-proxy:{uuid.uuid4().hex}"
    direct = SyncRedis.from_url(redis_url, socket_timeout=2)
    try:
        with ThreadedFaultProxy(*host_and_port(redis_url)) as proxy:
            client = SyncRedis.from_url(
                proxy.url, socket_timeout=2, retry=SyncRetry(NoBackoff(), 0)
            )
            fault = proxy.arm(Fault(command("SET"), Action.DROP_REPLY_AND_RESET))
            with pytest.raises(RedisConnectionError):
                client.set(key, "applied", ex=60)
            assert fault.fired == 1 and direct.get(key) == b"applied"
            assert client.get(key) == b"applied"
            assert proxy.connections == 2
            client.close()
    finally:
        direct.delete(key)
        direct.close()
