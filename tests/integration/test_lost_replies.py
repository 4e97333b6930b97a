"""Writes whose reply never arrives, on a real Redis behind a fault proxy on loopback.

Redis applies the MULTI/EXEC but the connection is reset (or goes silent) before the reply: the
writer cannot tell whether its change was stored. `BookChanges` reads the book again and finds
its change by name, so the change is answered as stored, never applied a second time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.application.book_changes import BookChanges, Change
from app.application.errors import StoreUnavailable
from app.application.ports import Clock, FinishedRecord
from app.domain.book import Book
from app.domain.values import ChildInput
from app.infrastructure.store.redis_books import RedisBookStore
from tests.fault_proxy import Action, Fault, FaultProxy, command
from tests.integration.services import service_url
from tests.integration.test_redis_book_store import new_book

pytestmark = pytest.mark.services

EXEC = command("EVALSHA")  # the store writes with one script
LEASE = timedelta(seconds=60)


class Now(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    url = urlsplit(service_url("LW_TEST_REDIS_URL"))
    async with FaultProxy(url.hostname or "127.0.0.1", url.port or 6379) as running:
        yield running


@pytest.fixture
async def through_proxy(proxy: FaultProxy) -> AsyncIterator[RedisBookStore]:
    client = Redis.from_url(proxy.url, socket_timeout=0.5)
    store = RedisBookStore(client=client)
    # Once the scripts are loaded (as in a server that has served a while), a write is one
    # EVALSHA that Redis applies; before, the first EVALSHA is refused (NOSCRIPT).
    warm = new_book()
    await store.add(warm)
    await store.update(warm, warm.version)
    await store.remove(warm, warm.version)
    yield store
    await client.aclose()


@pytest.fixture
async def direct() -> AsyncIterator[RedisBookStore]:
    client = Redis.from_url(service_url("LW_TEST_REDIS_URL"), socket_timeout=2)
    yield RedisBookStore(client=client)
    await client.aclose()


def claim(attempt: str) -> Change:
    def change(book: Book, now: datetime) -> None:
        book.begin_generation(attempt, ChildInput("a map"), now, LEASE)

    return change


@pytest.mark.parametrize("action", [Action.DROP_REPLY_AND_RESET, Action.DROP_REPLY_AND_STALL])
async def test_a_change_whose_reply_is_lost_is_stored_once_and_answered_as_stored(
    proxy: FaultProxy, through_proxy: RedisBookStore, direct: RedisBookStore, action: Action
) -> None:
    book = new_book()
    await direct.add(book)
    fault = proxy.arm(Fault(EXEC, action))
    changes = BookChanges(books=through_proxy, clock=Now())

    stored = await changes.change(book.user_id, claim("a-1"), change_id="a-1")

    assert fault.fired == 1
    assert stored.generation is not None and stored.generation.attempt_id == "a-1"
    kept = await direct.get(book.user_id)
    assert kept is not None
    assert kept.version == book.version + 1  # applied exactly once
    assert kept.recent_changes == ("a-1",)


async def test_a_change_refused_before_it_reached_redis_is_not_answered_as_stored(
    proxy: FaultProxy, through_proxy: RedisBookStore, direct: RedisBookStore
) -> None:
    book = new_book()
    await direct.add(book)
    proxy.arm(Fault(EXEC, Action.RESET_BEFORE_FORWARD, times=10))
    changes = BookChanges(books=through_proxy, clock=Now())

    with pytest.raises(StoreUnavailable):
        await changes.change(book.user_id, claim("a-1"), change_id="a-1")

    kept = await direct.get(book.user_id)
    assert kept is not None and kept.version == book.version and kept.generation is None


async def test_a_removal_whose_reply_is_lost_is_answered_as_removed(
    proxy: FaultProxy, through_proxy: RedisBookStore, direct: RedisBookStore
) -> None:
    book = new_book()
    await direct.add(book)
    fault = proxy.arm(Fault(EXEC, Action.DROP_REPLY_AND_RESET))
    changes = BookChanges(books=through_proxy, clock=Now())
    record = FinishedRecord(book.id, f"request-{uuid.uuid4()}")

    removed = await changes.remove(book.user_id, lambda b, now: None, finished=record)

    assert removed and fault.fired == 1
    assert await direct.get(book.user_id) is None
    assert await direct.last_finished(book.user_id) == record


async def test_a_new_book_whose_reply_was_lost_and_that_was_sent_again_is_stored(
    proxy: FaultProxy, direct: RedisBookStore
) -> None:
    # redis-py sends a command again after a connection error, as the service's client does.
    client = Redis.from_url(
        proxy.url, socket_timeout=0.5, retry=Retry(NoBackoff(), 2), retry_on_error=[RuntimeError]
    )
    book = new_book()
    await direct.add(new_book())  # the add script is loaded on the server: one EVALSHA stores
    fault = proxy.arm(Fault(command("EVALSHA"), Action.DROP_REPLY_AND_RESET))
    try:
        await RedisBookStore(client=client).add(book)
    finally:
        await client.aclose()
    assert fault.fired == 1
    kept = await direct.get(book.user_id)
    assert kept is not None and kept.id == book.id
