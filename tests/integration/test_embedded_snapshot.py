"""The embedded store's snapshot: what it keeps across a restart, and what the restart says."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.infrastructure.store.embedded import embedded_redis
from app.infrastructure.store.redis_books import KEY_PREFIX
from app.infrastructure.store.redis_idempotency import KEY_PREFIX as IDEMPOTENCY_PREFIX


async def test_a_restart_says_how_many_books_and_kept_responses_it_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = tmp_path / "books-in-progress.json"
    async with embedded_redis(snapshot) as client:
        await client.set(f"{KEY_PREFIX}alice", "a book", ex=3600)
        await client.set(f"{IDEMPOTENCY_PREFIX}alice:key-1", "a response", ex=3600)
    with caplog.at_level(logging.INFO, logger="app.infrastructure.store.embedded"):
        async with embedded_redis(snapshot) as client:
            assert await client.get(f"{KEY_PREFIX}alice") == b"a book"
    assert "restored 1 book in progress and 1 kept response from" in caplog.text
