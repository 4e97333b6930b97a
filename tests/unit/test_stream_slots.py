"""Open event streams are a gauge, and a user over their cap is counted as rate limited."""

from __future__ import annotations

import pytest

from app.application.errors import RateLimited
from app.domain.values import UserId
from app.infrastructure.metrics import ServiceMetrics
from app.interfaces.http.event_stream import StreamSlots


def test_open_streams_are_a_gauge_and_a_refused_one_is_counted() -> None:
    metrics = ServiceMetrics()
    slots = StreamSlots(per_user=2, total=10, metrics=metrics)
    alice, bob = UserId("alice"), UserId("bob")

    assert slots.acquire(alice) and slots.acquire(alice) and slots.acquire(bob)
    assert metrics.registry.get_sample_value("littlewriter_event_streams_open") == 3
    with pytest.raises(RateLimited):
        slots.check(alice)
    assert not slots.acquire(alice)
    slots.release(alice)

    assert metrics.registry.get_sample_value("littlewriter_event_streams_open") == 2
    refused = metrics.registry.get_sample_value(
        "littlewriter_rate_limited_total", {"limit": "event_streams"}
    )
    assert refused == 2  # the check, and the acquire that checked again
