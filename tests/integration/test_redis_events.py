"""Contract tests of the events written with each change and read back by the event feed, and
of the lease index: the same tests on fakeredis and on a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.application.errors import StoreUnavailable, VersionConflict
from app.domain.book import Book
from app.domain.values import ChildInput, Questions
from app.infrastructure.store.redis_books import RedisBookStore, events_key
from app.infrastructure.store.redis_events import RedisEventFeed
from tests.integration.test_redis_book_store import new_book
from tests.processes import free_port

LEASE = timedelta(seconds=30)


@pytest.fixture
async def feed(redis_client: Redis) -> AsyncIterator[RedisEventFeed]:
    events = RedisEventFeed(redis_client)
    events.start()
    yield events
    await events.close()


def store_for(client: Redis, kept: int = 500) -> RedisBookStore:
    return RedisBookStore(client=client, events_kept=kept)


async def write_page(store: RedisBookStore, book: Book, now: datetime, *, text_first: bool) -> None:
    expected = book.version
    book.begin_generation("attempt", ChildInput("a map"), now, LEASE)
    await store.update(book, expected)
    expected = book.version
    key = None if text_first else f"staging/{book.user_id}/{book.id}/p.png"
    book.complete_page(
        "attempt", "Momo found a map.", key, Questions(("Then?",)), now, image_lease=LEASE
    )
    await store.update(book, expected)


async def test_the_events_of_a_change_are_stored_with_it_and_read_in_order(
    redis_client: Redis, feed: RedisEventFeed
) -> None:
    store = store_for(redis_client)
    book = new_book()
    await store.add(book)
    await write_page(store, book, datetime.now(UTC), text_first=False)
    events = await feed.read_after(book.user_id, "0-0", 100)
    assert [e.name for e in events] == ["page_text", "questions", "image_ready", "page_done"]
    assert all(e.data["book_id"] == str(book.id) and e.data["page"] == 1 for e in events)
    assert events[0].data["text"] == "Momo found a map." and events[0].data["version"] == 3
    assert events[2].data["image_key"].endswith("/p.png")
    assert [e.order for e in events] == sorted(e.order for e in events)
    assert book.pending_events == ()
    bounds = await feed.bounds(book.user_id)
    assert bounds == (events[0].id, events[-1].id)
    assert await feed.read_after(book.user_id, events[1].id, 100) == events[2:]
    ttl = await redis_client.pttl(events_key(book.user_id))
    assert 0 < ttl <= (book.expires_at - datetime.now(UTC)).total_seconds() * 1000 + 1000


async def test_a_refused_change_stores_none_of_its_events(
    redis_client: Redis, feed: RedisEventFeed
) -> None:
    store = store_for(redis_client)
    book = new_book()
    await store.add(book)
    book.begin_generation("attempt", ChildInput("a map"), datetime.now(UTC), LEASE)
    with pytest.raises(VersionConflict):
        await store.update(book, expected_version=99)
    assert await feed.read_after(book.user_id, "0-0", 100) == []
    assert await feed.bounds(book.user_id) is None


async def test_only_the_newest_events_are_kept(redis_client: Redis, feed: RedisEventFeed) -> None:
    store = store_for(redis_client, kept=10)
    book = new_book(pages=5)
    await store.add(book)
    for _ in range(4):
        await write_page(store, book, datetime.now(UTC), text_first=False)
    events = await feed.read_after(book.user_id, "0-0", 100)
    assert len(events) == 10 and events[-1].name == "page_done"


async def test_a_new_event_wakes_the_users_listener_and_no_other(
    redis_client: Redis, feed: RedisEventFeed
) -> None:
    store = store_for(redis_client)
    book, other = new_book(), new_book()
    await store.add(book)
    await store.add(other)
    async with feed.listen(book.user_id) as signal, feed.listen(other.user_id) as quiet:
        await asyncio.sleep(0.1)  # the doorbell subscribes in the background
        signal.reset()
        quiet.reset()
        await write_page(store, book, datetime.now(UTC), text_first=True)
        assert await signal.wait(5)
        assert not await quiet.wait(0.3)
    assert feed.listening_streams == 0


async def test_the_doorbell_hands_a_listener_the_events_as_the_stream_holds_them(
    redis_client: Redis, feed: RedisEventFeed
) -> None:
    store = store_for(redis_client)
    book = new_book()
    await store.add(book)
    async with feed.listen(book.user_id) as signal:
        await asyncio.sleep(0.1)  # the doorbell subscribes in the background
        signal.reset()
        await write_page(store, book, datetime.now(UTC), text_first=False)
        stored = await feed.read_after(book.user_id, "0-0", 100)
        assert await signal.wait(5)
        await asyncio.sleep(0.1)  # both changes have rung
        assert signal.take_after("0-0") == stored  # the claim's events and the page's
        assert signal.take_after(stored[-1].id) == []  # taken, and the signal reset

        signal.reset()
        await store.update(book, book.version)  # a change with no events rings no one
        assert not await signal.wait(0.3)


async def test_a_listener_that_missed_a_ring_is_told_to_read_the_stream(
    redis_client: Redis, feed: RedisEventFeed
) -> None:
    store = store_for(redis_client)
    book = new_book(pages=3)
    await store.add(book)
    await write_page(store, book, datetime.now(UTC), text_first=True)
    async with feed.listen(book.user_id) as signal:
        await asyncio.sleep(0.1)
        signal.reset()
        await write_page(store, book, datetime.now(UTC), text_first=True)
        assert await signal.wait(5)
        await asyncio.sleep(0.1)
        assert signal.take_after("0-0") is None  # its cursor is before page 1's events
        stored = await feed.read_after(book.user_id, "0-0", 100)
        assert [e.data["page"] for e in stored] == [1, 1, 2, 2]  # text first: no picture yet


async def test_the_lease_index_names_books_whose_lease_passed(redis_client: Redis) -> None:
    store = store_for(redis_client)
    book = new_book()
    await store.add(book)
    now = datetime.now(UTC)
    await write_page(store, book, now, text_first=True)  # the picture holds a lease
    assert book.user_id not in await store.with_passed_leases(now, 1000)
    assert book.user_id in await store.with_passed_leases(now + LEASE, 1000)
    expected = book.version
    book.attach_illustration(1, "attempt", "staging/x/p.png", now, book.usage)
    await store.update(book, expected)
    assert book.user_id not in await store.with_passed_leases(now + LEASE, 1000)


async def test_a_deleted_or_expired_book_leaves_the_lease_index(redis_client: Redis) -> None:
    store = store_for(redis_client)
    book, gone = new_book(), new_book()
    for b in (book, gone):
        await store.add(b)
        b.begin_generation("attempt", ChildInput("x"), datetime.now(UTC), LEASE)
        await store.update(b, b.version - 1)
    later = datetime.now(UTC) + LEASE
    await store.remove(book, book.version)
    await redis_client.delete(f"lw:book:{gone.user_id}")  # as if its TTL ran out
    due = await store.with_passed_leases(later, 1000)
    assert book.user_id not in due and gone.user_id not in due
    assert await redis_client.zscore("lw:leases", gone.user_id.value) is None


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    client = Redis(
        host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    feed = RedisEventFeed(client)
    with pytest.raises(StoreUnavailable):
        await feed.read_after(new_book().user_id, "0-0", 10)
    with pytest.raises(StoreUnavailable):
        await store_for(client).with_passed_leases(datetime.now(UTC), 10)
    await client.aclose()


async def test_a_book_being_opened_is_in_the_lease_index_from_the_start(
    redis_client: Redis,
) -> None:
    """A new book is held for its opening: if its opener dies, recovery finds it by its lease."""
    store = store_for(redis_client)
    opened = new_book()
    book = Book.start(  # bookInit, held until its opening lease passes
        uuid.uuid4(),
        opened.user_id,
        opened.spec,
        opened.lifetime,
        datetime.now(UTC),
        opening_lease=LEASE,
    )
    await store.add(book)
    assert book.opening_deadline is not None
    assert book.user_id not in await store.with_passed_leases(book.opening_deadline - LEASE, 1000)
    assert book.user_id in await store.with_passed_leases(book.opening_deadline, 1000)
    expected = book.version
    book.open(f"staging/{book.user_id}/{book.id}/c.png", Questions(("Then?",)), datetime.now(UTC))
    await store.update(book, expected)
    later = datetime.now(UTC) + LEASE * 10
    assert book.user_id not in await store.with_passed_leases(later, 1000)
