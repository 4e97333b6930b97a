"""BookInProgressRepository on Redis: one JSON document per user, created if the user has none
(SET NX, with its lease entry: a book being opened holds one, so recovery finds it if its opener
dies) and changed only by compare-and-set on its id and version (one Lua script that also
writes the lease entry and the events), so a double tap can never lose or duplicate a page.
Runs unchanged on a real Redis or on an in-process fakeredis server (with lupa for its Lua)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
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
from app.application.ports import (
    BookInProgressRepository,
    BooksInProgressPage,
    FinishedRecord,
    IndexRepair,
)
from app.domain.book import Book, BookState
from app.domain.errors import InvalidValue
from app.domain.events import BookEvent
from app.domain.values import UserId
from app.infrastructure.store import codec
from app.infrastructure.store.progress_index import (
    INDEX_KEYS,
    PROGRESS_KEY,
    Position,
    changed_ms,
    decode_cursor,
    encode_cursor,
    entries_after,
    state_key,
    state_place,
)

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
log = logging.getLogger(__name__)
# Book keys read, and stale index entries pruned, per round trip of a repair.
REPAIR_BATCH = 200


def book_key(user_id: UserId) -> str:
    return f"{KEY_PREFIX}{user_id}"


def finished_key(user_id: UserId) -> str:
    return f"{FINISHED_PREFIX}{user_id}"


def events_key(user_id: UserId) -> str:
    return f"{EVENTS_PREFIX}{user_id}"


def _lease_ms(book: Book) -> str:
    passes_at = book.expiring_attempts_at
    return "" if passes_at is None else repr(passes_at.timestamp() * 1000)


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


def _readable(raw: str | bytes, where: str) -> Book | None:
    """The book, or None for a document this version cannot read (written by another version
    during a rolling deploy): lists and the repair pass it by, and say so in the log."""
    try:
        return _decoded(raw)
    except (InvalidValue, ValueError, KeyError, TypeError) as error:
        log.warning("book store: left out an unreadable book (%s): %s", where, error)
        return None


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
    recorded, trimmed to `events_kept`), the index of leases for recovery and the index of
    books in progress for the admin (see `progress_index`)."""

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
        self._prune = client.register_script(_script("prune_book_index.lua"))
        self._index = client.register_script(_script("index_book.lua"))

    async def get(self, user_id: UserId) -> Book | None:
        async with _translated():
            raw = await self._redis.get(book_key(user_id))
        # Each reader gets its own copy: the use cases change the book they read.
        return None if raw is None else _decoded(raw).copy()

    async def add(self, book: Book) -> None:
        key = book_key(book.user_id)
        async with _translated():
            created = await self._add(
                keys=[key, LEASES_KEY, *INDEX_KEYS],
                args=[
                    codec.dumps(book),
                    _expiry_ms(book),
                    _lease_ms(book),
                    book.user_id.value,
                    state_place(book.state),
                    changed_ms(book),
                ],
            )
            # A SET whose reply was lost and that the client sent again finds its own book.
            stored = None if created else await self.get(book.user_id)
            if not created and (stored is None or stored.id != book.id):
                raise BookAlreadyInProgress(f"user {book.user_id} already has a book in progress")

    async def update(self, book: Book, expected_version: int) -> None:
        user = book.user_id
        events = [part for e in book.pending_events for part in _event_fields(e)]
        async with _translated():
            stored = await self._update(
                keys=[book_key(user), LEASES_KEY, events_key(user), *INDEX_KEYS],
                args=[
                    str(book.id),
                    expected_version,
                    codec.dumps(book),
                    _expiry_ms(book),
                    _lease_ms(book),
                    user.value,
                    self._events_kept,
                    EVENTS_CHANNEL,
                    state_place(book.state),
                    changed_ms(book),
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
            if gone:  # expired books leave their entries behind
                await self._pruned(gone)
        return [u for u, found in zip(users, exists, strict=True) if found]

    async def _pruned(self, users: list[str]) -> int:
        """Remove the index entries of these users whose book is gone (checked in the script:
        a book started meanwhile keeps its entries)."""
        keys = [LEASES_KEY, *INDEX_KEYS, *(book_key(UserId(u)) for u in users)]
        removed: int = await self._prune(keys=keys, args=users)
        return removed

    async def list_in_progress(
        self,
        *,
        state: BookState | None,
        user_id: UserId | None,
        limit: int,
        cursor: str | None,
    ) -> BooksInProgressPage:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        after = None if cursor is None else decode_cursor(cursor)
        index = PROGRESS_KEY if state is None else state_key(state)
        async with _translated():
            if user_id is not None:
                score = await self._redis.zscore(index, user_id.value)
                entries = [] if score is None else [Position(int(score), user_id.value)]
                found = await self._live([e for e in entries if after is None or e < after], state)
                return BooksInProgressPage([book for _, book in found], None)
            listed: list[tuple[Position, Book]] = []
            position = after
            while len(listed) <= limit:  # one more than asked: is there a next page?
                entries = await entries_after(self._redis, index, position, limit + 1 - len(listed))
                if not entries:
                    break
                position = entries[-1]
                listed.extend(await self._live(entries, state))
        page = listed[:limit]
        more = len(listed) > limit
        return BooksInProgressPage(
            [book for _, book in page], encode_cursor(page[-1][0]) if more else None
        )

    async def _live(
        self, entries: list[Position], state: BookState | None
    ) -> list[tuple[Position, Book]]:
        """The books of these entries that are still stored (and, with `state`, still in it:
        one that changed meanwhile is listed under its new state); entries of books that expired
        are pruned on the way."""
        if not entries:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                pipe.get(book_key(UserId(entry.user)))
            documents = await pipe.execute()
        gone = [e.user for e, raw in zip(entries, documents, strict=True) if raw is None]
        if gone:
            await self._pruned(gone)
        books = [
            (entry, book.copy())
            for entry, raw in zip(entries, documents, strict=True)
            if raw is not None and (book := _readable(raw, entry.user)) is not None
        ]
        return [(e, b) for e, b in books if state is None or b.state is state]

    async def rebuild_indexes(self) -> IndexRepair:
        books = stale = 0
        async with _translated():
            batch: list[str] = []
            async for key in self._redis.scan_iter(match=f"{KEY_PREFIX}*", count=REPAIR_BATCH):
                batch.append(key.decode() if isinstance(key, bytes) else str(key))
                if len(batch) >= REPAIR_BATCH:
                    books += await self._index_books(batch)
                    batch = []
            books += await self._index_books(batch)
            indexed: set[str] = set()
            for index in (LEASES_KEY, *INDEX_KEYS):
                indexed.update(
                    m.decode() if isinstance(m, bytes) else str(m)
                    for m in await self._redis.zrange(index, 0, -1)
                )
            members = sorted(indexed)
            for start in range(0, len(members), REPAIR_BATCH):
                stale += await self._pruned(members[start : start + REPAIR_BATCH])
        return IndexRepair(books=books, stale_removed=stale)

    async def _index_books(self, keys: list[str]) -> int:
        if not keys:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            documents = await pipe.execute()
        indexed = 0
        for key, raw in zip(keys, documents, strict=True):
            if raw is None:
                continue  # expired since the scan
            book = _readable(raw, key)
            if book is None:
                continue  # its key is left alone
            indexed += await self._index(
                keys=[key, LEASES_KEY, *INDEX_KEYS],
                args=[
                    raw,
                    _lease_ms(book),
                    book.user_id.value,
                    state_place(book.state),
                    changed_ms(book),
                ],
            )
        return indexed

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
                keys=[book_key(user), LEASES_KEY, finished_key(user), *INDEX_KEYS],
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
