"""Blocking vendor calls (SQLAlchemy, botocore) run in a worker thread under one deadline over
all their own timeouts and retries: a partitioned backend is a fast 503, not a request that
hangs for the sum of them. The thread itself ends on its driver's timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from app.application.errors import DependencyUnavailable

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread_within(
    seconds: float,
    unavailable: Callable[[str], DependencyUnavailable],
    work: Callable[P, T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """`work(*args, **kwargs)` in a thread; past `seconds`, `unavailable(why)` is raised."""
    try:
        async with asyncio.timeout(seconds):
            return await asyncio.to_thread(work, *args, **kwargs)
    except TimeoutError:
        raise unavailable(f"it did not answer within {seconds:g} s") from None
