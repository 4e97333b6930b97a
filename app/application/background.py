"""Work that goes on after the response: asyncio tasks the process keeps until they end, and
cancels when it stops (each job gives back what it holds when cancelled)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from app.application.concurrency import stop

log = logging.getLogger(__name__)


class BackgroundJobs:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, job: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(job, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def wait(self) -> None:
        """Until every job running now has ended (tests and benches)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await asyncio.gather(*(stop(task) for task in list(self._tasks)), return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job %s failed", task.get_name(), exc_info=task.exception())
