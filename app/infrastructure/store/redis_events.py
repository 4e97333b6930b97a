"""BookEventFeed on Redis: each user's events are a stream (written by RedisBookStore in the same
transaction as the change), and one pub/sub channel rings when any user has new ones.

A process keeps one subscription whatever the number of open streams, and a reader reads its
user's stream only when rung (or at its heartbeat), so an open stream holds no Redis connection.
The doorbell also carries the events that rang it, with the id of the entry before them: a reader
whose cursor is that id sends them as they are, without reading the stream (two round trips a
page fewer for every open stream); after a gap (a lost subscription, a reader that fell behind)
it reads the stream as before."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from app.application.concurrency import stop
from app.application.ports import BookEventFeed, EventSignal, StoredEvent, parse_event_id
from app.domain.values import UserId
from app.infrastructure.store.redis_books import EVENTS_CHANNEL, _translated, events_key

log = logging.getLogger(__name__)
_RESUBSCRIBE_AFTER = 1.0
# Rings a reader has not taken yet; past this it reads the stream instead.
_BATCHES_KEPT = 64


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Batch:
    """Events written by one change, and the id of the stream's entry before them."""

    before: str
    events: tuple[StoredEvent, ...]


def parse_doorbell(payload: str) -> Batch | None:
    """The events a doorbell message carries (see update_book.lua), None if it carries none."""
    try:
        fields = json.loads(payload)
        events = tuple(
            StoredEvent(fields[i], fields[i + 1], json.loads(fields[i + 2]))
            for i in range(1, len(fields), 3)
        )
        return Batch(fields[0], events) if events else None
    except (ValueError, TypeError, IndexError, KeyError):
        return None


class _Signal(EventSignal):
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._batches: list[Batch] = []
        self._gap = False

    def ring(self, batch: Batch | None) -> None:
        if batch is None or len(self._batches) >= _BATCHES_KEPT:
            self._gap = True
            self._batches.clear()
        elif not self._gap:
            self._batches.append(batch)
        self._event.set()

    def reset(self) -> None:
        self._event.clear()
        self._batches = []
        self._gap = False

    def take_after(self, cursor: str) -> list[StoredEvent] | None:
        batches, gap = self._batches, self._gap
        self.reset()
        if gap:
            return None
        taken: list[StoredEvent] = []
        at = parse_event_id(cursor)
        for batch in batches:
            if at is not None and batch.events[-1].order <= at:
                continue  # already read from the stream
            if batch.before != cursor:
                return None
            taken += batch.events
            cursor = batch.events[-1].id
            at = batch.events[-1].order
        return taken

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

    def _ring(self, message: str) -> None:
        user_id, _, payload = message.partition("\n")
        signals = self._signals.get(user_id)
        if not signals:
            return  # most messages are for users with no stream open here: not parsed
        batch = parse_doorbell(payload)
        for signal in signals:
            signal.ring(batch)

    def _ring_all(self) -> None:
        for signals in self._signals.values():
            for signal in signals:
                signal.ring(None)

    @staticmethod
    def _event(entry_id: bytes | str, fields: dict[Any, Any]) -> StoredEvent:
        decoded = {_text(k): _text(v) for k, v in fields.items()}
        return StoredEvent(_text(entry_id), decoded["name"], json.loads(decoded["data"]))
