"""Run independent awaitables together and surface the first real error, not an ExceptionGroup."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from app.application.errors import GenerationFailed

A = TypeVar("A")
B = TypeVar("B")


async def both(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Await both at once; if either fails the other is cancelled and that error is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            task_a = group.create_task(first)
            task_b = group.create_task(second)
    except BaseExceptionGroup as group_error:
        raise _first_leaf(group_error) from None
    return task_a.result(), task_b.result()


@contextlib.asynccontextmanager
async def within(deadline: timedelta | None, what: str) -> AsyncIterator[None]:
    """Bound the generation under way: past `deadline` it is cancelled and `GenerationFailed`."""
    if deadline is None:
        yield
        return
    try:
        async with asyncio.timeout(deadline.total_seconds()):
            yield
    except TimeoutError:
        raise GenerationFailed(f"{what} took longer than {deadline.total_seconds():g} s") from None


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def stop(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait until it has ended. Cancelled again until it does: Python 3.11's
    `wait_for` (inside redis clients) can swallow a cancellation that lands as its wait ends."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


async def discard(task: asyncio.Future[Any]) -> None:
    """Stop `task` if it still runs and drop what it ended with (its error is not wanted)."""
    with contextlib.suppress(Exception):
        await stop(task)
