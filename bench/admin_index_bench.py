"""The admin's list of books in progress against the store's own floor, side by side.

Fills a Redis database (FLUSHED first; a real Redis with `--redis-url`, else the embedded
fakeredis) with `--books` books in progress, a quarter of them `generating`, through the book
store itself (so the index is what its scripts keep), then measures in alternating rounds:
  * `get`: one user's book (the floor: one GET and a decode);
  * `first page`: `list_in_progress(limit=20)`;
  * `deep page`: the page after `--depth` books, through the cursor;
  * `state filter`: the first 20 `generating` books.
Each figure is the median of the rounds' medians, in milliseconds, and its ratio to `get`.

Usage: .venv/bin/python bench/admin_index_bench.py [--books 10000] [--rounds 5] [--samples 200]
           [--depth 5000] [--redis-url redis://127.0.0.1:6379/6]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis

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
from app.infrastructure.store.redis_books import RedisBookStore

LIFETIME = BookLifetime(ttl=timedelta(hours=1), max_age=timedelta(hours=3))
LEASE = timedelta(minutes=2)


def a_book(user: UserId, at: datetime) -> Book:
    spec = BookSpec((Character("Momo", "a rabbit"),), 6, Language.EN, 5, "a forest")
    book = Book.start(uuid.uuid4(), user, spec, LIFETIME, at, opening_lease=LEASE)
    book.open(f"staging/{user}/{book.id}/c.png", Questions(("What next?",)), at)
    return book


async def fill(store: RedisBookStore, count: int) -> list[Book]:
    start = datetime.now(UTC)
    books: list[Book] = []
    for n in range(count):
        book = a_book(UserId(f"user-{n:06d}"), start + timedelta(milliseconds=n))
        await store.add(book)
        if n % 4 == 0:
            book.begin_generation(f"a{n}", ChildInput("a kite"), book.updated_at, LEASE)
            await store.update(book, expected_version=book.version - 1)
        books.append(book)
    return books


async def timed(call: Callable[[], Awaitable[object]], samples: int) -> float:
    spent: list[float] = []
    for _ in range(samples):
        began = time.perf_counter()
        await call()
        spent.append(time.perf_counter() - began)
    return statistics.median(spent) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--depth", type=int, default=5_000)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    client: Redis = (
        Redis.from_url(args.redis_url) if args.redis_url else FakeAsyncRedis(server=FakeServer())
    )
    await client.flushdb()
    store = RedisBookStore(client=client)
    began = time.perf_counter()
    books = await fill(store, args.books)
    print(f"filled {args.books} books in {time.perf_counter() - began:.1f} s")

    deep = None
    page = await store.list_in_progress(state=None, user_id=None, limit=100, cursor=None)
    for _ in range(args.depth // 100 - 1):
        page = await store.list_in_progress(
            state=None, user_id=None, limit=100, cursor=page.next_cursor
        )
    deep = page.next_cursor
    writer = next(b for b in books if b.state is BookState.IN_PROGRESS)

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "get": lambda: store.get(writer.user_id),
        "first page": lambda: store.list_in_progress(
            state=None, user_id=None, limit=20, cursor=None
        ),
        "deep page": lambda: store.list_in_progress(
            state=None, user_id=None, limit=20, cursor=deep
        ),
        "state filter": lambda: store.list_in_progress(
            state=BookState.GENERATING, user_id=None, limit=20, cursor=None
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            results[name].append(await timed(call, args.samples))
    floor = statistics.median(results["get"])
    print(f"{'':14} {'ms':>8} {'x get':>8}")
    for name, rounds in results.items():
        value = statistics.median(rounds)
        print(f"{name:14} {value:8.3f} {value / floor:8.2f}")
    await client.flushdb()
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
