"""BookInProgressRepository on Redis: one JSON document per user, created if the user has none
(SET NX, with its lease entry: a book being opened holds one, so recovery finds it if its opener
dies) and changed only by compare-and-set on its id and version (one Lua script that also
writes the lease entry and the events), so a double tap can never lose or duplicate a page.
Runs unchanged on a real Redis or on an in-process fakeredis server (with lupa for its Lua)."""

from __future__ import annotations

import asyncio
import functools
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from importlib import resources
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.application.errors import BookAlreadyInProgress, StoreUnavailable, VersionConflict
from app.application.ports import BookInProgressRepository, FinishedRecord
from app.domain.book import Book
from app.domain.events import BookEvent
from app.domain.values import UserId
from app.infrastructure.store import codec

KEY_PREFIX = "lw:book:"
EVENTS_PREFIX = "lw:events:"
# Every new event rings this one channel with the user's id; each process wakes its own readers.
EVENTS_CHANNEL = "lw:events"
# Users whose book holds a lease, scored by when the earliest one passes (ms since the epoch).
LEASES_KEY = "lw:leases"
DEFAULT_EVENTS_KEPT = 500
# Which request finished the user's last book: a retry whose reply was lost is answered with it.
FINISHED_PREFIX = "lw:finished:"
DEFAULT_FINISHED_KEPT = timedelta(hours=24)
DECODED_BOOKS_KEPT = 1024


def book_key(user_id: UserId) -> str:
    return f"{KEY_PREFIX}{user_id}"


def finished_key(user_id: UserId) -> str:
    return f"{FINISHED_PREFIX}{user_id}"


def events_key(user_id: UserId) -> str:
    return f"{EVENTS_PREFIX}{user_id}"


def _expiry_ms(book: Book) -> int:
    return math.ceil(book.expires_at.timestamp() * 1000)


def _event_fields(event: BookEvent) -> tuple[str, str]:
    data = {"book_id": str(event.book_id), "version": event.version, **event.data}
    return event.name.value, json.dumps(data, ensure_ascii=False)


# A client polls a book that mostly has not changed since its last read: decoding a document
# (which validates every value object again) is done once per stored version, keyed by the
# document itself, so a changed book is never read from here stale.
@functools.lru_cache(maxsize=DECODED_BOOKS_KEPT)
def _decoded(raw: str | bytes) -> Book:
    return codec.loads(raw)


def _script(name: str) -> str:
    return resources.files("app.infrastructure.store").joinpath("scripts", name).read_text()


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        raise StoreUnavailable(f"the book store is unreachable: {type(error).__name__}") from error
    except RedisError as error:
        raise StoreUnavailable(f"the book store failed: {type(error).__name__}") from error


class RedisBookStore(BookInProgressRepository):
    """Also keeps, in the same transactions, each user's event stream (the events a change
    recorded, trimmed to `events_kept`) and the index of leases for recovery."""

    def __init__(
        self,
        *,
        client: Redis,
        events_kept: int = DEFAULT_EVENTS_KEPT,
        finished_kept: timedelta = DEFAULT_FINISHED_KEPT,
    ) -> None:
        self._redis = client
        self._events_kept = events_kept
        self._finished_ms = math.ceil(finished_kept.total_seconds() * 1000)
        # One script each (EVALSHA): the whole compare-and-set is one round trip, and holds a
        # pooled connection for no longer than that.
        self._add = client.register_script(_script("add_book.lua"))
        self._update = client.register_script(_script("update_book.lua"))
        self._remove = client.register_script(_script("remove_book.lua"))

    async def get(self, user_id: UserId) -> Book | None:
        async with _translated():
            raw = await self._redis.get(book_key(user_id))
        # Each reader gets its own copy: the use cases change the book they read.
        return None if raw is None else _decoded(raw).copy()

    async def add(self, book: Book) -> None:
        key = book_key(book.user_id)
        passes_at = book.expiring_attempts_at
        async with _translated():
            created = await self._add(
                keys=[key, LEASES_KEY],
                args=[
                    codec.dumps(book),
                    _expiry_ms(book),
                    "" if passes_at is None else repr(passes_at.timestamp() * 1000),
                    book.user_id.value,
                ],
            )
            # A SET whose reply was lost and that the client sent again finds its own book.
            stored = None if created else await self.get(book.user_id)
            if not created and (stored is None or stored.id != book.id):
                raise BookAlreadyInProgress(f"user {book.user_id} already has a book in progress")

    async def update(self, book: Book, expected_version: int) -> None:
        user = book.user_id
        passes_at = book.expiring_attempts_at
        events = [part for e in book.pending_events for part in _event_fields(e)]
        async with _translated():
            stored = await self._update(
                keys=[book_key(user), LEASES_KEY, events_key(user)],
                args=[
                    str(book.id),
                    expected_version,
                    codec.dumps(book),
                    _expiry_ms(book),
                    "" if passes_at is None else repr(passes_at.timestamp() * 1000),
                    user.value,
                    self._events_kept,
                    EVENTS_CHANNEL,
                    *events,
                ],
            )
        if not stored:
            raise VersionConflict("the book changed since it was read")
        book.events_stored()

    async def with_passed_leases(self, now: datetime, limit: int) -> list[UserId]:
        async with _translated():
            members = await self._redis.zrangebyscore(
                LEASES_KEY, "-inf", now.timestamp() * 1000, start=0, num=limit
            )
            users = [UserId(m.decode() if isinstance(m, bytes) else str(m)) for m in members]
            if not users:
                return []
            exists = await asyncio.gather(*(self._redis.exists(book_key(u)) for u in users))
            gone = [u.value for u, found in zip(users, exists, strict=True) if not found]
            if gone:  # expired books leave their entry behind
                await self._redis.zrem(LEASES_KEY, *gone)
        return [u for u, found in zip(users, exists, strict=True) if found]

    async def remove(
        self, book: Book, expected_version: int, finished: FinishedRecord | None = None
    ) -> None:
        user = book.user_id
        record = (
            ""
            if finished is None
            else json.dumps({"book_id": str(finished.book_id), "request_id": finished.request_id})
        )
        async with _translated():
            removed = await self._remove(
                keys=[book_key(user), LEASES_KEY, finished_key(user)],
                args=[str(book.id), expected_version, user.value, record, self._finished_ms],
            )
        if not removed:
            raise VersionConflict("the book changed since it was read")

    async def last_finished(self, user_id: UserId) -> FinishedRecord | None:
        async with _translated():
            raw = await self._redis.get(finished_key(user_id))
        if raw is None:
            return None
        record = json.loads(raw)
        return FinishedRecord(UUID(record["book_id"]), record["request_id"])

    async def ping(self) -> None:
        async with _translated():
            await self._redis.ping()
