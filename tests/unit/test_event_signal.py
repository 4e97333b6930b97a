"""The signal an open event stream waits on: the events the doorbell hands it follow the
stream's cursor with none missing, or the stream reads the feed."""

from __future__ import annotations

import json

from app.application.ports import StoredEvent
from app.infrastructure.store.redis_events import Batch, _Signal, parse_doorbell


def event(ms: int, name: str = "page_text") -> StoredEvent:
    return StoredEvent(f"{ms}-0", name, {"page": 1})


def batch(before: str, *ms: int) -> Batch:
    return Batch(before, tuple(event(m) for m in ms))


async def test_the_events_of_consecutive_changes_are_handed_over_in_order() -> None:
    signal = _Signal()
    signal.ring(batch("10-0", 11, 12))
    signal.ring(batch("12-0", 13))
    assert await signal.wait(0)
    assert signal.take_after("10-0") == [event(11), event(12), event(13)]
    assert not await signal.wait(0)  # taking resets the signal


async def test_events_already_read_from_the_stream_are_skipped() -> None:
    signal = _Signal()
    signal.ring(batch("10-0", 11, 12))  # rang while the stream was read up to 12
    signal.ring(batch("12-0", 13))
    assert signal.take_after("12-0") == [event(13)]


async def test_a_gap_before_the_rung_events_means_reading_the_stream() -> None:
    signal = _Signal()
    signal.ring(batch("11-0", 12))  # the reader is at 10: event 11 rang before it listened
    assert signal.take_after("10-0") is None


async def test_a_ring_without_events_means_reading_the_stream() -> None:
    signal = _Signal()
    signal.ring(batch("10-0", 11))
    signal.ring(None)  # the doorbell resubscribed: rings may have been missed
    signal.ring(batch("11-0", 12))
    assert signal.take_after("10-0") is None
    signal.ring(batch("12-0", 13))  # after taking, it starts afresh
    assert signal.take_after("12-0") == [event(13)]


async def test_a_reader_far_behind_reads_the_stream_rather_than_holding_every_ring() -> None:
    signal = _Signal()
    for ms in range(11, 11 + 100):
        signal.ring(batch(f"{ms - 1}-0", ms))
    assert signal.take_after("10-0") is None


async def test_a_reset_before_reading_forgets_what_rang() -> None:
    signal = _Signal()
    signal.ring(batch("10-0", 11))
    signal.reset()
    assert not await signal.wait(0)
    assert signal.take_after("11-0") == []


def test_a_doorbell_message_is_read_into_its_events() -> None:
    payload = json.dumps(["0-0", "5-0", "page_text", '{"page": 1}', "5-1", "questions", "{}"])
    assert parse_doorbell(payload) == Batch(
        "0-0", (StoredEvent("5-0", "page_text", {"page": 1}), StoredEvent("5-1", "questions", {}))
    )


def test_a_doorbell_message_without_events_carries_none() -> None:
    assert parse_doorbell("") is None  # a ring from an older version: only the user id
    assert parse_doorbell('["0-0"]') is None
    assert parse_doorbell('["0-0", "5-0", "page_text"]') is None
    assert parse_doorbell('["0-0", "5-0", "page_text", "not json"]') is None
