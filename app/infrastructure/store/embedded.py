"""The embedded Redis: an in-process fakeredis server whose books survive a restart.

fakeredis keeps nothing on disk, so the books in progress are written to a snapshot file in the
data dir when the service stops (and every `interval` meanwhile) and loaded when it starts, each
with its own expiry. A real Redis needs none of this."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis

from app.infrastructure.store.redis_books import KEY_PREFIX, RedisBookStore
from app.infrastructure.store.redis_idempotency import KEY_PREFIX as IDEMPOTENCY_PREFIX

log = logging.getLogger(__name__)
# Books in progress and the responses kept for idempotency keys (plain strings with an expiry).
# Event streams are not kept: after a restart a client reads the book again (GET is enough).
_KEPT_PREFIXES = (KEY_PREFIX, IDEMPOTENCY_PREFIX)


async def _load(client: Redis, snapshot: Path) -> tuple[int, int]:
    """Load what the snapshot holds that has not expired: how many books in progress, and how
    many kept idempotent responses."""
    if not await asyncio.to_thread(snapshot.exists):
        return 0, 0
    entries = json.loads(await asyncio.to_thread(snapshot.read_text, "utf-8"))
    now_ms = int(time.time() * 1000)
    books = responses = 0
    for key, (value, expires_at_ms) in entries.items():
        if expires_at_ms > now_ms:
            await client.set(key, value, pxat=expires_at_ms)
            if key.startswith(KEY_PREFIX):
                books += 1
            else:
                responses += 1
    return books, responses


async def _save(client: Redis, snapshot: Path) -> int:
    entries: dict[str, tuple[str, int]] = {}
    for prefix in _KEPT_PREFIXES:
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            value = await client.get(key)
            expires_at_ms = await client.pexpiretime(key)
            if value is not None and expires_at_ms > 0:
                entries[_text(key)] = (_text(value), expires_at_ms)
    await asyncio.to_thread(_write_atomically, snapshot, json.dumps(entries, ensure_ascii=False))
    return len(entries)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, "utf-8")
    os.replace(temporary, path)


async def _keep_saving(client: Redis, snapshot: Path, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await _save(client, snapshot)
        except Exception:
            log.exception("could not write the embedded store snapshot")


@contextlib.asynccontextmanager
async def embedded_redis(snapshot: Path, interval: float = 30.0) -> AsyncIterator[Redis]:
    # No sockets here: allow as many connections as concurrent requests may want.
    client: Redis = FakeAsyncRedis(server=FakeServer(), max_connections=100_000)
    books, responses = await _load(client, snapshot)
    if books:
        # The snapshot keeps the books, not their index entries: write those again.
        await RedisBookStore(client=client).rebuild_indexes()
    if books or responses:
        log.info(
            "restored %d book%s in progress and %d kept response%s from %s",
            books,
            "" if books == 1 else "s",
            responses,
            "" if responses == 1 else "s",
            snapshot,
        )
    saver = asyncio.create_task(_keep_saving(client, snapshot, interval), name="store-snapshot")
    try:
        yield client
    finally:
        saver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await saver
        await _save(client, snapshot)
        await client.aclose()
