"""Work that goes on after the response: asyncio tasks the process keeps until they end, and
cancels when it stops (each job gives back what it holds when cancelled). A request that waits
for its work awaits the same job (shielded, so a client that goes away does not cancel it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.application.concurrency import stop
from app.application.errors import ApplicationError
from app.domain.errors import DomainError

log = logging.getLogger(__name__)
T = TypeVar("T")


class BackgroundJobs:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def spawn(self, job: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Run `job` under a unique `name` (what `running` finds it by)."""
        if name in self._tasks:
            job.close()
            raise ValueError(f"a job named {name!r} is running already")
        task = asyncio.create_task(self._run(job, name), name=name)
        self._tasks[name] = task
        task.add_done_callback(self._done)
        return task

    def _run(self, job: Coroutine[Any, Any, T], name: str) -> Coroutine[Any, Any, T]:
        """What the task runs: the job itself; a subclass may wrap it (in a trace span)."""
        return job

    def running(self, name: str) -> asyncio.Task[Any] | None:
        return self._tasks.get(name)

    @property
    def count(self) -> int:
        return len(self._tasks)

    async def wait(self) -> None:
        """Until every job running now has ended (tests and benches)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        await asyncio.gather(*(stop(task) for task in tasks), return_exceptions=True)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task.get_name(), None)
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, ApplicationError | DomainError):
            # Expected outcomes (a failed generation, a book discarded meanwhile) are on the book.
            log.info("background job %s ended: %s", task.get_name(), error)
        elif error is not None:
            log.error("background job %s failed", task.get_name(), exc_info=error)


async def awaited(task: asyncio.Task[T]) -> T:
    """Wait for a job's result without cancelling the job when the waiter is cancelled."""
    return await asyncio.shield(task)
