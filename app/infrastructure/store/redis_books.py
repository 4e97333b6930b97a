"""BookInProgressRepository on Redis: one JSON document per user, created with SET NX and
changed only by compare-and-set on its version (WATCH/MULTI), so a double tap can never lose
or duplicate a page. Runs unchanged on a real Redis or on an in-process fakeredis server."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.application.errors import BookAlreadyInProgress, StoreUnavailable, VersionConflict
from app.application.ports import BookInProgressRepository
from app.domain.book import Book
from app.domain.values import UserId
from app.infrastructure.store import codec

KEY_PREFIX = "lw:book:"


def book_key(user_id: UserId) -> str:
    return f"{KEY_PREFIX}{user_id}"


def _is_same(raw: bytes | str | None, book: Book, version: int) -> bool:
    """The stored document is this very book (a new one can reach the same version) at `version`."""
    if raw is None:
        return False
    stored = codec.loads(raw)
    return stored.id == book.id and stored.version == version


def _expiry_ms(book: Book) -> int:
    return math.ceil(book.expires_at.timestamp() * 1000)


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


class RedisBookStore(BookInProgressRepository):
    def __init__(self, client: Redis) -> None:
        self._redis = client

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
                await pipe.execute()
            except WatchError:
                raise VersionConflict("the book changed while it was being written") from None

    async def delete(self, user_id: UserId) -> bool:
        async with _translated():
            return bool(await self._redis.delete(book_key(user_id)))

    async def delete_if_unchanged(self, book: Book) -> bool:
        key = book_key(book.user_id)
        async with _translated(), self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if not _is_same(await pipe.get(key), book, book.version):
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.delete(key)
                await pipe.execute()
            except WatchError:
                return False
            return True

    async def ping(self) -> None:
        async with _translated():
            await self._redis.ping()
