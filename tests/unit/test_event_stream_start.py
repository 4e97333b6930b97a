"""Where an event stream starts for a `Last-Event-ID`, and when it tells the client that the
book is gone: `stream_start` on a feed with given bounds and the in-memory book store."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import pytest

from app.application.ports import BookEventFeed, EventSignal, StoredEvent
from app.domain.values import UserId
from app.interfaces.http.event_stream import StreamStart, stream_start
from tests.unit.fakes import ALICE, T0, InMemoryBookStore, opened_book

NOW_MS = int(T0.timestamp() * 1000)
KEPT = (f"{NOW_MS - 5000}-0", f"{NOW_MS - 1000}-3")


class Kept(BookEventFeed):
    """A feed that only knows which events it keeps."""

    def __init__(self, bounds: tuple[str, str] | None) -> None:
        self._bounds = bounds

    async def read_after(self, user_id: UserId, after: str, limit: int) -> list[StoredEvent]:
        raise NotImplementedError

    async def bounds(self, user_id: UserId) -> tuple[str, str] | None:
        return self._bounds

    def listen(self, user_id: UserId) -> AbstractAsyncContextManager[EventSignal]:
        raise NotImplementedError


def books(*, with_book: bool) -> InMemoryBookStore:
    store = InMemoryBookStore()
    if with_book:
        store.put_directly(opened_book())
    return store


async def start(
    bounds: tuple[str, str] | None, last_event_id: str | None, *, with_book: bool = True
) -> StreamStart:
    return await stream_start(Kept(bounds), books(with_book=with_book), ALICE, last_event_id, T0)


@pytest.mark.parametrize(
    ("bounds", "last_event_id", "expected"),
    [
        (None, None, StreamStart("0-0", None)),
        (KEPT, None, StreamStart(KEPT[1], None)),
        (KEPT, KEPT[0], StreamStart(KEPT[0], None)),
        (KEPT, KEPT[1], StreamStart(KEPT[1], None)),
        (KEPT, "1-0", StreamStart("1-0", "events_expired")),
        (KEPT, f"{NOW_MS}-0", StreamStart(KEPT[1], "unknown_event_id")),
    ],
)
async def test_with_events_kept_the_stream_resumes_as_before(
    bounds: tuple[str, str] | None, last_event_id: str | None, expected: StreamStart
) -> None:
    assert await start(bounds, last_event_id) == expected
    assert await start(bounds, last_event_id, with_book=False) == expected


async def test_an_id_with_no_event_kept_resyncs_from_the_first_new_event() -> None:
    assert await start(None, KEPT[1]) == StreamStart("0-0", "events_lost")


async def test_an_id_with_no_event_and_no_book_kept_says_the_book_is_gone() -> None:
    gone = await start(None, KEPT[1], with_book=False)
    assert gone == StreamStart("0-0", "events_lost", book_gone=True)


async def test_a_future_id_with_no_event_kept_is_unknown_and_the_book_checked() -> None:
    future = f"{NOW_MS + 60_000}-0"
    assert await start(None, future) == StreamStart("0-0", "unknown_event_id")
    gone = await start(None, future, with_book=False)
    assert gone == StreamStart("0-0", "unknown_event_id", book_gone=True)


@pytest.mark.parametrize(("bounds", "last_event_id"), [(KEPT, KEPT[0]), (None, None)])
async def test_the_book_is_read_only_when_the_events_are_lost(
    bounds: tuple[str, str] | None, last_event_id: str | None
) -> None:
    store = books(with_book=False)
    await stream_start(Kept(bounds), store, ALICE, last_event_id, T0)
    assert store.faults.calls.get("get", 0) == 0
