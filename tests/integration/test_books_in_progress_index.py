"""Contract tests of listing the books in progress across users (the admin's list): the same
tests on the unit tests' in-memory fake, on the embedded fakeredis and on a real Redis, and the
Redis index's own promises (kept by the same scripts as each change, pruned when a book expired,
rebuilt by the repair, never a scan)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis

from app.application.errors import InvalidCursor
from app.application.ports import BookInProgressRepository
from app.domain.book import Book, BookState
from app.domain.values import (
    BookLifetime,
    BookSpec,
    Character,
    ChildInput,
    Language,
    Questions,
    UserId,
)
from app.infrastructure.store.progress_index import INDEX_KEYS, PROGRESS_KEY, state_key
from app.infrastructure.store.redis_books import LEASES_KEY, RedisBookStore, book_key
from tests.integration.services import service_url
from tests.unit.fakes import InMemoryBookStore

LIFETIME = BookLifetime(ttl=timedelta(hours=1), max_age=timedelta(hours=3))
LEASE = timedelta(seconds=60)


@dataclass
class Subject:
    store: BookInProgressRepository
    redis: Redis | None  # None: the in-memory fake
    # Each test's users have their own names: a real Redis keeps other tests' books a while.
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:6]}-")

    def user(self, name: str) -> UserId:
        return UserId(self.prefix + name)

    def names(self, users: list[str]) -> list[str]:
        """This test's users among `users`, by the names the test gave them."""
        return [u.removeprefix(self.prefix) for u in users if u.startswith(self.prefix)]

    async def expire(self, name: str) -> None:
        """The book's time to live passed."""
        if self.redis is None:
            assert isinstance(self.store, InMemoryBookStore)
            self.store.expire(self.user(name))
        else:
            await self.redis.delete(book_key(self.user(name)))


@asynccontextmanager
async def on_redis(kind: str) -> AsyncIterator[Subject]:
    if kind == "fakeredis":
        client: Redis = FakeAsyncRedis(server=FakeServer())
    else:
        client = Redis.from_url(service_url("LW_TEST_REDIS_URL"), socket_timeout=2)
        # The index is global: this test's database starts it empty (books that other tests
        # left stay stored, unlisted, until they expire).
        await client.delete(*INDEX_KEYS)
    subject = Subject(RedisBookStore(client=client), client)
    try:
        yield subject
    finally:
        if kind == "redis":
            await client.delete(*INDEX_KEYS)
            async for key in client.scan_iter(match=f"{book_key(subject.user('x'))[:-1]}*"):
                await client.delete(key)
        await client.aclose()


@pytest.fixture(params=["memory", "fakeredis", pytest.param("redis", marks=pytest.mark.services)])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "memory":
        yield Subject(InMemoryBookStore(), None)
        return
    async with on_redis(request.param) as subject:
        yield subject


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.services)])
async def redis_subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async with on_redis(request.param) as subject:
        yield subject


def a_book(at: datetime, user_id: UserId, pages: int = 3) -> Book:
    spec = BookSpec((Character("Momo", "a rabbit"),), pages, Language.EN, 5, "a forest")
    book = Book.start(uuid.uuid4(), user_id, spec, LIFETIME, at, opening_lease=LEASE)
    book.open(f"staging/{user_id}/{book.id}/c.png", Questions(("What next?",)), at)
    return book


async def stored(subject: Subject, at: datetime, name: str) -> Book:
    book = a_book(at, subject.user(name))
    await subject.store.add(book)
    return book


async def listing(subject: Subject, **query: Any) -> list[str]:
    """Every page's users, in order, following the cursors."""
    query.setdefault("state", None)
    query.setdefault("user_id", None)
    query.setdefault("limit", 2)
    users: list[str] = []
    cursor = None
    while True:
        page = await subject.store.list_in_progress(**query, cursor=cursor)
        assert len(page.items) <= query["limit"]
        users.extend(book.user_id.value for book in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return subject.names(users)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_books_are_listed_newest_change_first_across_pages(subject: Subject) -> None:
    base = now()
    for n, user in enumerate(["ann", "bea", "cat", "dan", "eve"]):
        await stored(subject, base - timedelta(minutes=10 - n), user)
    assert await listing(subject) == ["eve", "dan", "cat", "bea", "ann"]
    page = await subject.store.list_in_progress(state=None, user_id=None, limit=5, cursor=None)
    assert subject.names([b.user_id.value for b in page.items]) == [
        "eve",
        "dan",
        "cat",
        "bea",
        "ann",
    ]
    assert page.next_cursor is None
    assert page.items[0].id is not None and page.items[0].state is BookState.IN_PROGRESS


async def test_books_changed_in_the_same_millisecond_are_all_listed_once(
    subject: Subject,
) -> None:
    at = now() - timedelta(minutes=1)
    users = [f"tie{n}" for n in range(7)]
    for user in users:
        await stored(subject, at, user)
    await stored(subject, at + timedelta(seconds=1), "later")
    await stored(subject, at - timedelta(seconds=1), "earlier")
    for limit in (1, 2, 3, 10):
        listed = await listing(subject, limit=limit)
        assert listed == ["later", *sorted(users, reverse=True), "earlier"]


async def test_a_change_moves_a_book_to_the_top_and_to_its_new_state(subject: Subject) -> None:
    base = now() - timedelta(minutes=5)
    first = await stored(subject, base, "ann")
    await stored(subject, base + timedelta(seconds=1), "bea")
    first.begin_generation("attempt-1", ChildInput("a map"), base + timedelta(seconds=2), LEASE)
    await subject.store.update(first, expected_version=1)

    assert await listing(subject) == ["ann", "bea"]
    assert await listing(subject, state=BookState.GENERATING) == ["ann"]
    assert await listing(subject, state=BookState.IN_PROGRESS) == ["bea"]
    assert await listing(subject, state=BookState.DONE) == []
    assert await listing(subject, state=BookState.INIT) == []


async def test_a_book_being_opened_is_listed_as_bookinit(subject: Subject) -> None:
    at = now()
    opening = Book.start(
        uuid.uuid4(),
        subject.user("ann"),
        BookSpec((Character("Momo", ""),), 2, Language.EN, None, ""),
        LIFETIME,
        at,
        opening_lease=LEASE,
    )
    await subject.store.add(opening)
    assert await listing(subject, state=BookState.INIT) == ["ann"]
    opening.open("staging/c.png", Questions(("q",)), at)
    await subject.store.update(opening, expected_version=0)
    assert await listing(subject, state=BookState.INIT) == []
    assert await listing(subject, state=BookState.IN_PROGRESS) == ["ann"]


async def test_the_user_filter_gives_that_users_book_or_none(subject: Subject) -> None:
    base = now()
    await stored(subject, base, "ann")
    await stored(subject, base, "bea")
    assert await listing(subject, user_id=subject.user("bea")) == ["bea"]
    assert await listing(subject, user_id=subject.user("carol")) == []
    generating = await listing(subject, user_id=subject.user("bea"), state=BookState.GENERATING)
    assert generating == []


async def test_a_removed_book_leaves_the_list(subject: Subject) -> None:
    book = await stored(subject, now(), "ann")
    await stored(subject, now(), "bea")
    await subject.store.remove(book, expected_version=1)
    assert await listing(subject) == ["bea"]
    assert await listing(subject, state=BookState.IN_PROGRESS) == ["bea"]


async def test_an_expired_book_is_not_listed(subject: Subject) -> None:
    base = now() - timedelta(minutes=1)
    for n in range(5):
        await stored(subject, base + timedelta(seconds=n), f"user{n}")
    await subject.expire("user3")
    await subject.expire("user2")
    assert await listing(subject, limit=2) == ["user4", "user1", "user0"]
    assert await listing(subject, user_id=subject.user("user3")) == []


@pytest.mark.parametrize(
    "cursor", ["not a cursor", "bm9uc2Vuc2U", "eyJzIjotMSwidSI6ImFubiJ9", "a" * 201]
)
async def test_a_cursor_the_store_did_not_give_is_refused(subject: Subject, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        await subject.store.list_in_progress(state=None, user_id=None, limit=2, cursor=cursor)


# -- the Redis index itself ------------------------------------------------------------------


def redis_of(subject: Subject) -> Redis:
    assert subject.redis is not None
    return subject.redis


async def members(subject: Subject, key: str) -> list[str]:
    return subject.names([m.decode() for m in await redis_of(subject).zrange(key, 0, -1)])


async def test_each_change_keeps_the_index_in_step(redis_subject: Subject) -> None:
    client = redis_of(redis_subject)
    book = await stored(redis_subject, now(), "ann")
    assert await members(redis_subject, PROGRESS_KEY) == ["ann"]
    assert await client.zscore(PROGRESS_KEY, redis_subject.user("ann").value) == int(
        book.updated_at.timestamp() * 1000
    )
    assert await members(redis_subject, state_key(BookState.IN_PROGRESS)) == ["ann"]
    book.begin_generation("a", ChildInput("x"), now(), LEASE)
    await redis_subject.store.update(book, expected_version=1)
    assert await members(redis_subject, state_key(BookState.IN_PROGRESS)) == []
    assert await members(redis_subject, state_key(BookState.GENERATING)) == ["ann"]
    await redis_subject.store.remove(book, expected_version=2)
    for key in INDEX_KEYS:
        assert await members(redis_subject, key) == []


async def test_a_refused_change_leaves_the_index_as_it_was(redis_subject: Subject) -> None:
    book = await stored(redis_subject, now(), "ann")
    book.begin_generation("a", ChildInput("x"), now(), LEASE)
    with pytest.raises(Exception, match="changed"):
        await redis_subject.store.update(book, expected_version=7)
    assert await members(redis_subject, state_key(BookState.GENERATING)) == []
    assert await members(redis_subject, state_key(BookState.IN_PROGRESS)) == ["ann"]


async def test_an_expired_books_entries_are_pruned_when_met(redis_subject: Subject) -> None:
    await stored(redis_subject, now(), "ann")
    await stored(redis_subject, now(), "bea")
    await redis_subject.expire("ann")
    assert await listing(redis_subject) == ["bea"]
    assert await members(redis_subject, PROGRESS_KEY) == ["bea"]
    assert await members(redis_subject, state_key(BookState.IN_PROGRESS)) == ["bea"]


async def test_a_new_book_replaces_the_entries_an_expired_one_left(redis_subject: Subject) -> None:
    old = await stored(redis_subject, now(), "ann")
    old.begin_generation("a", ChildInput("x"), now(), LEASE)
    await redis_subject.store.update(old, expected_version=1)
    await redis_subject.expire("ann")  # its entries stay until met
    await stored(redis_subject, now(), "ann")
    assert await members(redis_subject, state_key(BookState.GENERATING)) == []
    assert await listing(redis_subject, state=BookState.IN_PROGRESS) == ["ann"]


async def test_listing_never_scans_the_store(
    redis_subject: Subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis_of(redis_subject)
    await stored(redis_subject, now(), "ann")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the listing scanned the store")

    for name in ("scan", "scan_iter", "keys"):
        monkeypatch.setattr(client, name, refuse)
    assert await listing(redis_subject) == ["ann"]


async def test_the_repair_rebuilds_the_index_from_the_stored_books(
    redis_subject: Subject,
) -> None:
    client = redis_of(redis_subject)
    store = redis_subject.store
    assert isinstance(store, RedisBookStore)
    base = now() - timedelta(minutes=1)
    ann = await stored(redis_subject, base, "ann")
    ann.begin_generation("a", ChildInput("x"), base + timedelta(seconds=2), LEASE)
    await store.update(ann, expected_version=1)
    await stored(redis_subject, base + timedelta(seconds=1), "bea")
    await client.delete(*INDEX_KEYS, LEASES_KEY)  # stored before the index existed
    gone = redis_subject.user("gone").value
    await client.zadd(PROGRESS_KEY, {gone: 1})  # entries whose book is gone
    await client.zadd(state_key(BookState.DONE), {gone: 1, redis_subject.user("lost").value: 1})

    repair = await store.rebuild_indexes()

    assert repair.books >= 2 and repair.stale_removed >= 2
    assert await listing(redis_subject) == ["ann", "bea"]
    assert await listing(redis_subject, state=BookState.GENERATING) == ["ann"]
    assert await members(redis_subject, state_key(BookState.DONE)) == []
    passes_at = ann.expiring_attempts_at
    assert passes_at is not None
    assert redis_subject.user("ann") in await store.with_passed_leases(passes_at, 1000)
    again = await store.rebuild_indexes()  # nothing left to repair: the same index
    assert again.stale_removed == 0
    assert await listing(redis_subject) == ["ann", "bea"]


async def test_a_book_this_version_cannot_read_is_left_out_of_the_list(
    redis_subject: Subject,
) -> None:
    """A document written by another version of the service (a rolling deploy) does not make
    the admin's whole list fail: it is left out (and logged); the others are listed."""
    await stored(redis_subject, now(), "ann")
    await stored(redis_subject, now(), "bea")
    user = redis_subject.user("ann").value
    await redis_of(redis_subject).set(f"lw:book:{user}", '{"id": "x", "version": 1}')

    assert await listing(redis_subject) == ["bea"]
