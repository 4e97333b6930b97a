"""Jobs run as tasks of the process that queued them: the embedded defaults' queue. Not
durable: a job the process stops is given back to the child on the book, not run again."""

from __future__ import annotations

import asyncio

from app.application.background import BackgroundJobs, awaited
from app.application.errors import JobNotFound
from app.application.ports import GenerationJob, GenerationQueue, JobRunner


class InProcessGenerationQueue(GenerationQueue):
    def __init__(self, *, jobs: BackgroundJobs) -> None:
        self._jobs = jobs
        self._runner: JobRunner | None = None

    @property
    def durable(self) -> bool:
        return False

    def serve(self, runner: JobRunner) -> None:
        """The runner of this process's jobs (built after the use cases that queue them)."""
        self._runner = runner

    async def enqueue(self, job: GenerationJob) -> None:
        if self._runner is None:
            raise RuntimeError("the in-process queue has no runner")
        if self._jobs.running(job.key) is None:
            self._jobs.spawn(_in_turn(self._runner, job), name=job.key)

    async def result(self, job: GenerationJob) -> None:
        running = self._jobs.running(job.key)
        if running is None:
            raise JobNotFound(f"no job {job.key} is running")
        await awaited(running)

    async def waiting(self) -> int:
        return 0  # a job starts as it is queued


async def _in_turn(runner: JobRunner, job: GenerationJob) -> None:
    if job.delay_seconds:  # its turn under the model provider's limits
        await asyncio.sleep(job.delay_seconds)
    await runner.run(job)
