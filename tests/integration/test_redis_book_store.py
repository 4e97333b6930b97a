"""Contract tests of the book-in-progress store: the same tests on fakeredis and on a real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from app.application.errors import BookAlreadyInProgress, StoreUnavailable, VersionConflict
from app.application.ports import FinishedRecord
from app.domain.book import Book, BookState
from app.domain.values import (
    BookLifetime,
    BookSpec,
    Character,
    ChildInput,
    Language,
    Questions,
    Usage,
    UserId,
)
from app.infrastructure.store import codec
from app.infrastructure.store.redis_books import RedisBookStore, book_key


def new_book_like(book: Book) -> Book:
    """A book of the same user at version 1 but with another id (what a late finisher holds)."""
    copy = Book.start(
        uuid.uuid4(), book.user_id, book.spec, LIFETIME, datetime.now(UTC), opening_lease=LEASE
    )
    copy.open("staging/c.png", Questions(("q",)), datetime.now(UTC))
    return copy


LIFETIME = BookLifetime(ttl=timedelta(hours=1), max_age=timedelta(hours=3))
LEASE = timedelta(seconds=60)


@pytest.fixture
def store(redis_client: Redis) -> RedisBookStore:
    return RedisBookStore(client=redis_client)


def new_book(created: datetime | None = None, pages: int = 3) -> Book:
    created = created or datetime.now(UTC)
    user = UserId(f"user-{uuid.uuid4().hex[:12]}")
    spec = BookSpec((Character("모모", "a rabbit 🐰"),), pages, Language.KO, 5, "a snowy forest")
    book = Book.start(uuid.uuid4(), user, spec, LIFETIME, created, opening_lease=LEASE)
    book.open(
        f"staging/{user}/{book.id}/{uuid.uuid4()}.png",
        Questions(("What next?",)),
        created,
        character_sheet="모모: a white rabbit 🐰 with a red scarf",
        usage=Usage(120, 45, 1),
    )
    return book


async def test_added_book_reads_back_identically(store: RedisBookStore) -> None:
    book = new_book()
    await store.add(book)
    stored = await store.get(book.user_id)
    assert stored is not None
    assert (stored.id, stored.user_id, stored.spec, stored.state, stored.version) == (
        book.id,
        book.user_id,
        book.spec,
        BookState.IN_PROGRESS,
        1,
    )
    assert stored.questions == book.questions and stored.cover_key == book.cover_key
    assert stored.character_sheet == book.character_sheet and stored.usage == Usage(120, 45, 1)
    assert stored.created_at == book.created_at and stored.expires_at == book.expires_at


async def test_each_read_is_a_book_of_its_own(store: RedisBookStore) -> None:
    # Reads of an unchanged document are decoded once: what one reader changes, no other sees.
    book = new_book()
    await store.add(book)
    first, second = await store.get(book.user_id), await store.get(book.user_id)
    assert first is not None and second is not None and first is not second
    first.mark_change("change-1")
    first.begin_generation("attempt-1", ChildInput("a glowing map"), datetime.now(UTC), LEASE)
    again = await store.get(book.user_id)
    assert again is not None and again is not second
    assert not again.has_change("change-1") and again.generation is None
    assert again.state is BookState.IN_PROGRESS and again.pending_events == ()


async def test_a_generating_book_keeps_its_attempt_and_lease(store: RedisBookStore) -> None:
    book = new_book()
    await store.add(book)
    now = datetime.now(UTC)
    book.begin_generation("attempt-1", ChildInput("a map"), now, timedelta(seconds=30))
    await store.update(book, expected_version=1)
    stored = await store.get(book.user_id)
    assert stored is not None and stored.generation == book.generation
    assert stored.state_at(now) is BookState.GENERATING


async def test_second_book_for_the_same_user_is_refused(store: RedisBookStore) -> None:
    book = new_book()
    await store.add(book)
    other = Book.start(
        uuid.uuid4(), book.user_id, book.spec, LIFETIME, datetime.now(UTC), opening_lease=LEASE
    )
    other.open("staging/x.png", Questions(("q",)), datetime.now(UTC))
    with pytest.raises(BookAlreadyInProgress):
        await store.add(other)
    stored = await store.get(book.user_id)
    assert stored is not None and stored.id == book.id


async def test_concurrent_adds_create_exactly_one_book(store: RedisBookStore) -> None:
    first = new_book()
    rivals = []
    for _ in range(10):
        rival = Book.start(
            uuid.uuid4(),
            first.user_id,
            first.spec,
            LIFETIME,
            datetime.now(UTC),
            opening_lease=LEASE,
        )
        rival.open("staging/r.png", Questions(("q",)), datetime.now(UTC))
        rivals.append(rival)
    results = await asyncio.gather(*(store.add(b) for b in rivals), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, BookAlreadyInProgress) for r in results if r is not None)


async def test_update_with_a_stale_version_is_refused_and_changes_nothing(
    store: RedisBookStore,
) -> None:
    book = new_book()
    await store.add(book)
    book.begin_generation("a", ChildInput("x"), datetime.now(UTC), timedelta(seconds=30))
    with pytest.raises(VersionConflict):
        await store.update(book, expected_version=0)
    stored = await store.get(book.user_id)
    assert stored is not None and stored.version == 1 and stored.state is BookState.IN_PROGRESS


async def test_update_of_a_discarded_book_is_refused(store: RedisBookStore) -> None:
    book = new_book()
    await store.add(book)
    await store.remove(book, book.version)
    book.begin_generation("a", ChildInput("x"), datetime.now(UTC), timedelta(seconds=30))
    with pytest.raises(VersionConflict):
        await store.update(book, expected_version=1)
    assert await store.get(book.user_id) is None


async def test_concurrent_updates_from_one_version_let_exactly_one_win(
    store: RedisBookStore,
) -> None:
    book = new_book()
    await store.add(book)

    copies = [await store.get(book.user_id) for _ in range(10)]
    for n, copy in enumerate(copies):
        assert copy is not None
        copy.begin_generation(f"attempt-{n}", ChildInput("x"), datetime.now(UTC), timedelta(30))
    results = await asyncio.gather(
        *(store.update(c, expected_version=1) for c in copies if c), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, VersionConflict) for r in results if r is not None)
    stored = await store.get(book.user_id)
    assert stored is not None and stored.version == 2


async def test_every_write_sets_the_key_expiry_to_the_book_expiry(
    store: RedisBookStore, redis_client: Redis
) -> None:
    start = datetime.now(UTC)
    book = new_book(start)
    await store.add(book)
    first_expiry = await redis_client.pexpiretime(book_key(book.user_id))
    assert abs(first_expiry - book.expires_at.timestamp() * 1000) < 5
    later = start + timedelta(minutes=30)
    book.begin_generation("a", ChildInput("x"), later, timedelta(seconds=30))
    await store.update(book, expected_version=1)
    second_expiry = await redis_client.pexpiretime(book_key(book.user_id))
    assert second_expiry - first_expiry == pytest.approx(30 * 60 * 1000, abs=5)


async def test_expiry_never_passes_the_books_max_age(
    store: RedisBookStore, redis_client: Redis
) -> None:
    start = datetime.now(UTC)
    book = new_book(start)
    await store.add(book)
    book.begin_generation(
        "a", ChildInput("x"), start + timedelta(hours=2, minutes=30), timedelta(30)
    )
    await store.update(book, expected_version=1)
    expiry = await redis_client.pexpiretime(book_key(book.user_id))
    assert expiry == pytest.approx((start + LIFETIME.max_age).timestamp() * 1000, abs=5)


async def test_reading_does_not_move_the_expiry(store: RedisBookStore, redis_client: Redis) -> None:
    book = new_book()
    await store.add(book)
    before = await redis_client.pexpiretime(book_key(book.user_id))
    await store.get(book.user_id)
    assert await redis_client.pexpiretime(book_key(book.user_id)) == before


async def test_an_expired_book_is_gone(store: RedisBookStore) -> None:
    now = datetime.now(UTC)
    book = new_book(now - LIFETIME.max_age + timedelta(milliseconds=300))
    book.begin_generation("a", ChildInput("x"), now, timedelta(seconds=30))
    await store.add(book)
    assert await store.get(book.user_id) is not None
    await asyncio.sleep(0.5)
    assert await store.get(book.user_id) is None


async def test_remove_keeps_a_book_that_moved_on(store: RedisBookStore) -> None:
    book = new_book()
    await store.add(book)
    moved = await store.get(book.user_id)
    assert moved is not None
    moved.begin_generation("a", ChildInput("x"), datetime.now(UTC), timedelta(seconds=30))
    await store.update(moved, expected_version=1)
    with pytest.raises(VersionConflict):
        await store.remove(book, book.version)
    assert await store.get(book.user_id) is not None
    await store.remove(moved, moved.version)
    assert await store.get(book.user_id) is None
    with pytest.raises(VersionConflict):
        await store.remove(moved, moved.version)


async def test_a_book_removed_as_finished_leaves_which_request_finished_it(
    store: RedisBookStore,
) -> None:
    book = new_book()
    await store.add(book)
    assert await store.last_finished(book.user_id) is None
    await store.remove(book, book.version, FinishedRecord(book.id, "request-1"))
    assert await store.last_finished(book.user_id) == FinishedRecord(book.id, "request-1")
    assert await store.get(book.user_id) is None


async def test_a_new_book_at_the_same_version_is_never_overwritten_or_deleted(
    store: RedisBookStore,
) -> None:
    old = new_book()
    await store.add(old)
    await store.remove(old, old.version)
    new = Book.start(
        uuid.uuid4(), old.user_id, old.spec, LIFETIME, datetime.now(UTC), opening_lease=LEASE
    )
    new.open("staging/n.png", Questions(("q",)), datetime.now(UTC))
    await store.add(new)
    assert new.version == old.version
    old.begin_generation("late", ChildInput("x"), datetime.now(UTC), timedelta(seconds=30))
    with pytest.raises(VersionConflict):
        await store.update(old, expected_version=1)
    with pytest.raises(VersionConflict):
        await store.remove(new_book_like(old), old.version)
    stored = await store.get(old.user_id)
    assert stored is not None and stored.id == new.id and stored.state is BookState.IN_PROGRESS


async def test_unreachable_redis_is_store_unavailable() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    store = RedisBookStore(client=client)
    try:
        with pytest.raises(StoreUnavailable):
            await store.get(UserId("someone"))
        with pytest.raises(StoreUnavailable):
            await store.ping()
    finally:
        await client.aclose()


def test_a_document_stored_before_cost_accounting_still_reads() -> None:
    book = new_book()
    doc = json.loads(codec.dumps(book))
    for newer in ("character_sheet", "summary", "usage"):
        del doc[newer]
    old = codec.loads(json.dumps(doc))
    assert (old.id, old.usage, old.character_sheet, old.summary) == (book.id, Usage(), "", "")


async def test_a_refused_add_whose_blocking_book_vanished_is_still_refused(
    store: RedisBookStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = new_book()
    await store.add(first)
    second = new_book_like(first)

    async def gone(user_id: UserId) -> None:  # the first book expired between SET NX and GET
        return None

    monkeypatch.setattr(store, "get", gone)
    with pytest.raises(BookAlreadyInProgress):
        await store.add(second)
