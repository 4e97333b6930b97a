"""BookEventFeed on Redis: each user's events are a stream (written by RedisBookStore in the same
transaction as the change), and one pub/sub channel rings when any user has new ones.

A process keeps one subscription whatever the number of open streams, and a reader reads its
user's stream only when rung (or at its heartbeat), so an open stream holds no Redis connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from app.application.concurrency import stop
from app.application.ports import BookEventFeed, EventSignal, StoredEvent
from app.domain.values import UserId
from app.infrastructure.store.redis_books import EVENTS_CHANNEL, _translated, events_key

log = logging.getLogger(__name__)
_RESUBSCRIBE_AFTER = 1.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Signal(EventSignal):
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    def reset(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> bool:
        try:  # not wait_for: on Python 3.11 it makes a task for every wait
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True


class RedisEventFeed(BookEventFeed):
    def __init__(self, client: Redis) -> None:
        self._redis = client
        self._signals: defaultdict[str, set[_Signal]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None

    async def read_after(self, user_id: UserId, after: str, limit: int) -> list[StoredEvent]:
        async with _translated():
            entries: list[Any] = (
                await self._redis.xrange(events_key(user_id), min=f"({after}", max="+", count=limit)
                or []
            )
        return [self._event(entry_id, fields) for entry_id, fields in entries]

    async def bounds(self, user_id: UserId) -> tuple[str, str] | None:
        key = events_key(user_id)
        async with _translated():
            first: list[Any] = await self._redis.xrange(key, count=1) or []
            last: list[Any] = await self._redis.xrevrange(key, count=1) or []
        if not first or not last:
            return None
        return _text(first[0][0]), _text(last[0][0])

    @contextlib.asynccontextmanager
    async def listen(self, user_id: UserId) -> AsyncIterator[EventSignal]:
        signal = _Signal()
        self._signals[user_id.value].add(signal)
        try:
            yield signal
        finally:
            waiting = self._signals[user_id.value]
            waiting.discard(signal)
            if not waiting:
                del self._signals[user_id.value]

    @property
    def listening_streams(self) -> int:
        return sum(len(s) for s in self._signals.values())

    def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="event-doorbell")

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        await stop(listener)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(EVENTS_CHANNEL)
                    self._ring_all()  # rings missed while unsubscribed are read now
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            self._ring(_text(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep listening whatever Redis did
                log.warning("event doorbell lost its subscription (%s); retrying", error)
                await asyncio.sleep(_RESUBSCRIBE_AFTER)

    def _ring(self, user_id: str) -> None:
        for signal in self._signals.get(user_id, ()):
            signal.ring()

    def _ring_all(self) -> None:
        for signals in self._signals.values():
            for signal in signals:
                signal.ring()

    @staticmethod
    def _event(entry_id: bytes | str, fields: dict[Any, Any]) -> StoredEvent:
        decoded = {_text(k): _text(v) for k, v in fields.items()}
        return StoredEvent(_text(entry_id), decoded["name"], json.loads(decoded["data"]))
