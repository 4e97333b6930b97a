"""Server-Sent Events for a user's book: where a stream starts (Last-Event-ID), what it sends,
and how many a process keeps open."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.application.errors import DependencyUnavailable, RateLimited
from app.application.ports import (
    BookEventFeed,
    BookInProgressRepository,
    Clock,
    StoredEvent,
    parse_event_id,
)
from app.domain.values import UserId
from app.infrastructure.metrics import ServiceMetrics
from app.interfaces.http.problems import BadRequest
from app.interfaces.http.views import LinkMaker

log = logging.getLogger("littlewriter.events")
RECONNECT_MS = 3000
BOOK_GONE_RETRY_MS = 3_600_000
_BATCH = 100
_SLOTS_RETRY_AFTER = 5


class ServiceBusy(DependencyUnavailable):
    """This process holds as many open streams as it is allowed."""


class StreamSlots:
    """How many event streams are open in this process, per user and in all."""

    def __init__(self, *, per_user: int, total: int, metrics: ServiceMetrics) -> None:
        self._per_user = per_user
        self._total = total
        self._metrics = metrics
        self._open: Counter[str] = Counter()
        self.open_streams = 0

    def check(self, user_id: UserId) -> None:
        if self._open[user_id.value] >= self._per_user:
            self._metrics.rate_limited.labels("event_streams").inc()
            raise RateLimited(
                f"At most {self._per_user} event streams may be open at once; close one first.",
                _SLOTS_RETRY_AFTER,
            )
        if self.open_streams >= self._total:
            raise ServiceBusy("this server holds as many event streams as it can")

    def acquire(self, user_id: UserId) -> bool:
        try:
            self.check(user_id)
        except (RateLimited, ServiceBusy):
            return False
        self._open[user_id.value] += 1
        self.open_streams += 1
        self._metrics.event_streams_open.inc()
        return True

    def release(self, user_id: UserId) -> None:
        self.open_streams -= 1
        self._metrics.event_streams_open.dec()
        self._open[user_id.value] -= 1
        if self._open[user_id.value] <= 0:
            del self._open[user_id.value]


def checked_event_id(value: str | None) -> str | None:
    if value is None:
        return None
    parsed = parse_event_id(value.strip())
    if parsed is None:
        raise BadRequest("Last-Event-ID must be the id of an event this service sent.")
    return f"{parsed[0]}-{parsed[1]}"


@dataclass(frozen=True)
class StreamStart:
    cursor: str
    resync: str | None  # why the client should read the book again, if it should
    book_gone: bool = False  # no book is in progress any more: say so and end the stream


async def stream_start(
    feed: BookEventFeed,
    books: BookInProgressRepository,
    user_id: UserId,
    last_event_id: str | None,
    now: datetime,
) -> StreamStart:
    """Where to resume. Without an id the stream starts at the newest event; with one it sends
    every event after it, and asks the client to read the book again (`resync`) when events may
    be missing (the id is older than what is kept, or none is kept any more) or the id is not
    one we could have sent."""
    bounds = await feed.bounds(user_id)
    if last_event_id is None:
        return StreamStart(bounds[1] if bounds else "0-0", None)
    given = parse_event_id(last_event_id)
    assert given is not None
    if bounds is None:
        if given == (0, 0):  # "every event": none was ever kept, so none was missed
            return StreamStart("0-0", None)
        return await _without_events(books, user_id, given, now)
    return _within(bounds, last_event_id, given)


async def _without_events(
    books: BookInProgressRepository, user_id: UserId, given: tuple[int, int], now: datetime
) -> StreamStart:
    """The client saw an event but none is kept: the stream expired, or the store lost its data
    (a Redis restart without persistence). The client must read the book again, and is told
    when there is no book left to read, rather than waiting forever for its events."""
    future = given[0] > now.timestamp() * 1000 + 1000
    reason = "unknown_event_id" if future else "events_lost"
    gone = await books.get(user_id) is None
    return StreamStart("0-0", reason, book_gone=gone)


def _within(bounds: tuple[str, str], last_event_id: str, given: tuple[int, int]) -> StreamStart:
    first, last = (parse_event_id(b) for b in bounds)
    assert first is not None and last is not None
    if given > last:
        return StreamStart(bounds[1], "unknown_event_id")
    if given < first:
        return StreamStart(last_event_id, "events_expired")
    return StreamStart(last_event_id, None)


def sse(event: StoredEvent, link: LinkMaker) -> str:
    data: dict[str, Any] = dict(event.data)
    key = data.pop("image_key", None)
    if key is not None:
        data["image_url"] = link(key)
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.name}\ndata: {payload}\n\n"


def _resync(reason: str) -> str:
    return f'event: resync\ndata: {{"reason":"{reason}"}}\n\n'


# The last words of a stream whose book is gone; a client that reconnects anyway waits long.
BOOK_GONE = (
    f'event: book_gone\ndata: {{"reason":"no_book_in_progress"}}\n\nretry: {BOOK_GONE_RETRY_MS}\n\n'
)


# The token the stream was opened with has expired: the client reconnects with a fresh one.
TOKEN_EXPIRED = (
    f'event: token_expired\ndata: {{"reason":"token_expired"}}\n\nretry: {RECONNECT_MS}\n\n'
)


@dataclass(frozen=True)
class Watch:
    """One client's stream: whose book, where to resume, and until when its token holds."""

    user_id: UserId
    last_event_id: str | None
    token_expires_at: datetime


async def event_stream(
    feed: BookEventFeed,
    books: BookInProgressRepository,
    slots: StreamSlots,
    watch: Watch,
    *,
    clock: Clock,
    link: LinkMaker,
    heartbeat: float,
) -> AsyncIterator[str]:
    user_id = watch.user_id
    if not slots.acquire(user_id):  # taken by another stream since the route checked
        yield f"retry: {_SLOTS_RETRY_AFTER * 1000}\n\n"
        return
    try:
        async with feed.listen(user_id) as signal:
            yield f"retry: {RECONNECT_MS}\n\n"
            start = await stream_start(feed, books, user_id, watch.last_event_id, clock.now())
            if start.resync is not None:
                yield _resync(start.resync)
            if start.book_gone:
                yield BOOK_GONE
                return
            cursor = start.cursor
            read = True
            while True:
                if read:
                    signal.reset()
                    events = await feed.read_after(user_id, cursor, _BATCH)
                for event in events:
                    yield sse(event, link)
                    cursor = event.id
                if read and len(events) == _BATCH:
                    continue
                # An open stream delivers nothing past its token's expiry.
                left = (watch.token_expires_at - clock.now()).total_seconds()
                if left <= 0:
                    yield TOKEN_EXPIRED
                    return
                if await signal.wait(min(heartbeat, left)):
                    delivered = signal.take_after(cursor)
                    read, events = delivered is None, delivered or []
                else:  # at each heartbeat the stream is read, whatever the doorbell said
                    yield ": keep-alive\n\n"
                    read = True
    except DependencyUnavailable as error:
        # The client reconnects with its Last-Event-ID and loses nothing.
        log.warning("event stream ended: %s", error)
        yield f"retry: {RECONNECT_MS}\n\n"
    finally:
        slots.release(user_id)
