"""BookInProgressRepository on Redis: one JSON document per user, created with SET NX and
changed only by compare-and-set on its version (WATCH/MULTI), so a double tap can never lose
or duplicate a page. Runs unchanged on a real Redis or on an in-process fakeredis server."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

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


def book_key(user_id: UserId) -> str:
    return f"{KEY_PREFIX}{user_id}"


def finished_key(user_id: UserId) -> str:
    return f"{FINISHED_PREFIX}{user_id}"


def events_key(user_id: UserId) -> str:
    return f"{EVENTS_PREFIX}{user_id}"


def _is_same(raw: bytes | str | None, book: Book, version: int) -> bool:
    """The stored document is this very book (a new one can reach the same version) at `version`."""
    if raw is None:
        return False
    stored = codec.loads(raw)
    return stored.id == book.id and stored.version == version


def _expiry_ms(book: Book) -> int:
    return math.ceil(book.expires_at.timestamp() * 1000)


def _event_fields(event: BookEvent) -> dict[FieldT, EncodableT]:
    data = {"book_id": str(event.book_id), "version": event.version, **event.data}
    return {"name": event.name.value, "data": json.dumps(data, ensure_ascii=False)}


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        raise StoreUnavailable(f"the book store is unreachable: {type(error).__name__}") from error
    except WatchError:
        raise
    except RedisError as error:
        raise StoreUnavailable(f"the book store failed: {type(error).__name__}") from error


def _conflict_or_outage(error: WatchError, conflict: str) -> Exception:
    """redis-py also raises WatchError when the connection of a watched transaction broke: then
    nobody else changed the book, and whether the write landed is unknown (an outage)."""
    lost = RedisConnectionError | RedisTimeoutError | OSError | RuntimeError  # see composition
    broken = isinstance(error.__context__, lost)
    if broken or "occurred while watching" in str(error):
        return StoreUnavailable(f"the book store connection broke during a write: {error}")
    return VersionConflict(conflict)


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

    async def get(self, user_id: UserId) -> Book | None:
        async with _translated():
            raw = await self._redis.get(book_key(user_id))
        return None if raw is None else codec.loads(raw)

    async def add(self, book: Book) -> None:
        async with _translated():
            created = await self._redis.set(
                book_key(book.user_id), codec.dumps(book), nx=True, pxat=_expiry_ms(book)
            )
        if not created:
            raise BookAlreadyInProgress(f"user {book.user_id} already has a book in progress")

    async def update(self, book: Book, expected_version: int) -> None:
        key = book_key(book.user_id)
        async with _translated(), self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if not _is_same(await pipe.get(key), book, expected_version):
                    raise VersionConflict("the book changed since it was read")
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.set(key, codec.dumps(book), pxat=_expiry_ms(book))
                self._index_leases(pipe, book)
                self._append_events(pipe, book)
                await pipe.execute()
            except WatchError as error:
                raise _conflict_or_outage(error, "the book changed while it was written") from None
        book.events_stored()

    def _index_leases(self, pipe: Pipeline, book: Book) -> None:
        passes_at = book.expiring_attempts_at
        if passes_at is None:
            pipe.zrem(LEASES_KEY, book.user_id.value)
        else:
            pipe.zadd(LEASES_KEY, {book.user_id.value: passes_at.timestamp() * 1000})

    def _append_events(self, pipe: Pipeline, book: Book) -> None:
        if not book.pending_events:
            return
        stream = events_key(book.user_id)
        for event in book.pending_events:
            pipe.xadd(stream, _event_fields(event), maxlen=self._events_kept, approximate=False)
        pipe.pexpireat(stream, _expiry_ms(book))
        pipe.publish(EVENTS_CHANNEL, book.user_id.value)

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
        key = book_key(book.user_id)
        async with _translated(), self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if not _is_same(await pipe.get(key), book, expected_version):
                    raise VersionConflict("the book changed since it was read")
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.delete(key)
                pipe.zrem(LEASES_KEY, book.user_id.value)
                if finished is not None:
                    record = {"book_id": str(finished.book_id), "request_id": finished.request_id}
                    pipe.set(finished_key(book.user_id), json.dumps(record), px=self._finished_ms)
                await pipe.execute()
            except WatchError as error:
                raise _conflict_or_outage(error, "the book changed while it was removed") from None

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
