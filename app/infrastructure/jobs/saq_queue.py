"""Generation jobs on Redis with SAQ (docs/decisions/job-queue.md says why SAQ).

A job is keyed by its attempt: queued twice, it is one job. A worker that dies stops its job's
heartbeat; SAQ's sweep puts the job back in the queue and another worker runs it again (it finds
on the book what the first run did). A worker told to stop finishes its jobs within the grace
period and puts the rest back. The job always ends "complete" with what came of it, so that a
failure a retry cannot mend (a page the model could not write) is not run again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, cast
from uuid import UUID

from opentelemetry import propagate
from opentelemetry.trace import Tracer
from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Job, Status, Worker
from saq.job import TERMINAL_STATUSES
from saq.queue.redis import RedisQueue
from saq.types import PartialTimersDict

from app.application.errors import (
    DatabaseUnavailable,
    DependencyUnavailable,
    GenerationFailed,
    ImageStorageUnavailable,
    JobNotFound,
    ModerationUnavailable,
    NoBookInProgress,
    StoreUnavailable,
)
from app.application.ports import GenerationJob, GenerationQueue, JobKind, JobRunner
from app.application.request_context import bind_request_id, unbind_request_id
from app.domain.errors import GenerationInProgress, InvalidBookState
from app.domain.values import UserId
from app.infrastructure.metrics import ServiceMetrics

log = logging.getLogger(__name__)
QUEUE_NAME = "littlewriter-generation"
FUNCTION = "generate"
HEARTBEAT_SECONDS = 10  # a worker silent this long is dead: its job is put back
SWEEP_SECONDS = 3  # how often workers look for such jobs
UPKEEP_SECONDS = 3  # how often a worker says it is alive
ABORT_WAIT_SECONDS = 2.0
WAIT_SLICE_SECONDS = 2  # a result is awaited by notice, and read again this often
RUNS = 3  # a job is run at most this many times (its worker dying each time)
# A job waiting its turn is released to the workers this early (SAQ schedules by whole
# seconds, and a worker looks every second) and waits out the rest to the millisecond, so that
# jobs released together still start spaced as their turns were.
EARLY_RELEASE_SECONDS = 2
# What a failed job's answer may name: raised again, with its detail, where its result is awaited.
_FAILURES: dict[str, type[Exception]] = {
    kind.__name__: kind
    for kind in (
        GenerationFailed,
        NoBookInProgress,
        DependencyUnavailable,
        StoreUnavailable,
        DatabaseUnavailable,
        ImageStorageUnavailable,
        ModerationUnavailable,
        InvalidBookState,
        GenerationInProgress,
    )
}


# What SAQ's sweep lists, under its lock (the script of saq/queue/redis.py, RedisQueue.sweep):
# every job in the active list, with its stored state.
_LIST_ACTIVE = """
local id_jobs = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SETEX', KEYS[1], ARGV[1], 1)
    for i, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
        id_jobs[i] = {v, redis.call('GET', v)}
    end
end
return id_jobs
"""
TAKEN_MARK_SECONDS = 60


class _SweepingQueue(RedisQueue):
    """SAQ's queue, with two changes to its sweep of stuck jobs.

    A job a worker has just taken (moved to the active list) but not yet marked active is left
    for one more sweep: SAQ sweeps it at once, and on a busy machine the worker that took it
    is only late to say so, so the job ran twice (tobymao/saq#277; seen in
    bench/workers_bench.py). A job still not started at the next sweep is put back.

    And the sweep waits two seconds, not five, for a stuck job's worker to acknowledge its
    abort before putting the job back: the sweep handles stuck jobs one after another, and
    after a worker with a hundred jobs died it would take minutes. Two seconds is past a live
    worker's abort check (every second), so a worker that was only slow stops its run before
    the job is run again; if not, the attempt fence on the book and the named changes still
    keep it to one stored page."""

    def __init__(self, redis: Redis, *, name: str) -> None:
        super().__init__(redis, name=name)
        listing = redis.register_script(_LIST_ACTIVE)

        async def stuck_candidates(
            keys: list[str], args: list[Any], client: Redis | None = None
        ) -> list[tuple[bytes, bytes | None]]:
            id_jobs = await listing(keys=keys, args=args, client=client)
            return [pair for pair in id_jobs if not await self._just_taken(*pair)]

        self._cleanup_script = cast(Any, stuck_candidates)

    async def _just_taken(self, job_id: bytes, stored: bytes | None) -> bool:
        """Taken by a worker that has not said it started it, and not seen so before."""
        job = self.deserialize(stored)
        if job is None or job.status is not Status.QUEUED:
            return False
        mark = f"lw:saq-taken:{job_id.decode()}:{job.attempts}"
        return bool(await self.redis.set(mark, 1, nx=True, ex=TAKEN_MARK_SECONDS))

    async def sweep(self, lock: int = 60, abort: float = ABORT_WAIT_SECONDS) -> list[str]:
        return await super().sweep(lock, abort=min(abort, ABORT_WAIT_SECONDS))


class SaqGenerationQueue(GenerationQueue):
    def __init__(
        self,
        *,
        redis: Redis,
        job_timeout_seconds: int,
        tracer: Tracer,
        metrics: ServiceMetrics,
        command_timeout_seconds: float,
        name: str = QUEUE_NAME,
    ) -> None:
        self._command_timeout = command_timeout_seconds
        self._tracer = tracer
        self._metrics = metrics
        self._redis = redis
        self._queue = _SweepingQueue(redis, name=name)
        self._timeout = job_timeout_seconds

    @property
    def durable(self) -> bool:
        return True

    async def connect(self) -> None:
        await self._queue.connect()

    async def close(self) -> None:
        try:
            await self._queue.disconnect()
        except (RedisError, OSError) as error:  # an unreachable Redis: its sockets are closed
            log.warning("the job queue closed with its Redis unreachable: %s", error)
            await self._redis.aclose()

    async def enqueue(self, job: GenerationJob) -> None:
        trace_context: dict[str, str] = {}
        propagate.inject(trace_context)  # the job's span goes in the request's trace
        not_before = time.time() + job.delay_seconds if job.delay_seconds else None
        try:
            async with asyncio.timeout(self._command_timeout):
                await self._queue.enqueue(
                    FUNCTION,
                    key=job.key,
                    timeout=self._timeout + EARLY_RELEASE_SECONDS,  # waited out in the job
                    heartbeat=HEARTBEAT_SECONDS,
                    retries=RUNS,
                    scheduled=_released_at(not_before),
                    kind=job.kind.value,
                    user_id=job.user_id.value,
                    book_id=str(job.book_id),
                    attempt_id=job.attempt_id,
                    request_id=job.request_id,
                    trace_context=trace_context,
                    not_before=not_before,
                )
        except (RedisError, OSError, TimeoutError) as error:
            raise StoreUnavailable(f"the job queue is unreachable: {error!r}") from None

    async def result(self, job: GenerationJob) -> None:
        # Past the job's own timeout (and a sweep) it has ended one way or another.
        deadline = (
            asyncio.get_running_loop().time()
            + job.delay_seconds
            + self._timeout
            + SWEEP_SECONDS * 2
        )
        try:
            async with asyncio.timeout(self._command_timeout):
                queued = await self._queue.job(job.key)
            if queued is None:
                raise JobNotFound(f"no job {job.key}")
            # A notice can be missed (SAQ subscribes only while someone waits): wait for one
            # a slice at a time, and read the job again between slices.
            while queued.status not in TERMINAL_STATUSES:
                if asyncio.get_running_loop().time() > deadline:
                    raise StoreUnavailable("the job is still running; ask again shortly")
                with contextlib.suppress(TimeoutError):
                    await queued.refresh(until_complete=WAIT_SLICE_SECONDS)
                async with asyncio.timeout(self._command_timeout):
                    await queued.refresh()
        except (RedisError, OSError, TimeoutError) as error:
            raise StoreUnavailable(f"the job queue is unreachable: {error!r}") from None
        _raise_failure(queued)

    async def waiting(self) -> int:
        try:
            async with asyncio.timeout(self._command_timeout):
                # Queued or scheduled (waiting their turn), not running.
                incomplete = await self._queue.count("incomplete")
                return max(0, incomplete - await self._queue.count("active"))
        except (RedisError, OSError, TimeoutError) as error:
            raise StoreUnavailable(f"the job queue is unreachable: {error}") from None

    def worker(
        self, runner: JobRunner, *, concurrency: int, grace_seconds: int
    ) -> GenerationWorker:
        """A worker running this queue's jobs with `runner`, `concurrency` at a time."""
        return GenerationWorker(
            self._queue, runner, concurrency, grace_seconds, self._tracer, self._metrics
        )


class GenerationWorker:
    """SAQ's worker. Told to stop, it takes no more jobs, gives those it runs the grace period to
    finish, then cancels the rest, which SAQ puts back in the queue. (SAQ's stop also waits for
    its upkeep loops to see the stop, so their timers are kept short: a stop with nothing
    running takes about `UPKEEP_SECONDS`.)"""

    def __init__(
        self,
        queue: RedisQueue,
        runner: JobRunner,
        concurrency: int,
        grace_seconds: int,
        tracer: Tracer,
        metrics: ServiceMetrics,
    ) -> None:
        async def generate(ctx: Any, **payload: Any) -> dict[str, str | None]:
            saq_job: Job = ctx["job"]
            job = GenerationJob(
                JobKind(payload["kind"]),
                UserId(payload["user_id"]),
                UUID(payload["book_id"]),
                payload["attempt_id"],
                payload.get("request_id"),
            )
            if saq_job.attempts > 1:
                metrics.job_redeliveries.inc()
            parent = propagate.extract(payload.get("trace_context") or {})
            with tracer.start_as_current_span(
                f"job {job.kind}", context=parent, attributes={"littlewriter.job": job.key}
            ):
                return await _run(runner, job, saq_job, payload.get("not_before"))

        self._worker: Worker[Any] = Worker(
            queue,
            functions=[(FUNCTION, generate)],
            concurrency=concurrency,
            dequeue_timeout=1,  # a slot waiting for a job sees the stop within a second
            shutdown_grace_period_s=grace_seconds or None,
            # SAQ's partial type inherits its keys as required; only these are changed here.
            timers=cast(
                PartialTimersDict,
                {"sweep": SWEEP_SECONDS, "worker_info": UPKEEP_SECONDS},
            ),
        )
        self._worker.SIGNALS = []  # the process (server or `littlewriter worker`) handles them
        self._running: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._running = asyncio.create_task(self._worker.start(), name="generation-worker")

    async def stop(self) -> None:
        await self._worker.stop()
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)


def _released_at(not_before: float | None) -> int:
    """When SAQ gives a job to the workers: at once, or shortly before its turn."""
    if not_before is None or not_before - time.time() <= EARLY_RELEASE_SECONDS:
        return 0
    return int(not_before) - EARLY_RELEASE_SECONDS


async def _run(
    runner: JobRunner, job: GenerationJob, saq_job: Job, not_before: float | None
) -> dict[str, str | None]:
    token = bind_request_id(job.request_id)
    beating = asyncio.create_task(_heartbeat(saq_job))
    try:
        if not_before is not None and (early := not_before - time.time()) > 0:
            await asyncio.sleep(early)  # its turn under the model provider's limits
        await runner.run(job, redelivered=saq_job.attempts > 1)
    except Exception as error:
        if type(error).__name__ not in _FAILURES:
            log.error("generation job %s failed", job.key, exc_info=error)
        else:
            log.info("generation job %s ended: %s", job.key, error)
        return {"error": type(error).__name__, "detail": str(error)}
    finally:
        beating.cancel()
        unbind_request_id(token)
    return {"error": None, "detail": None}


async def _heartbeat(saq_job: Job) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS / 3)
        try:
            await saq_job.update()
        except (RedisError, OSError) as error:
            log.warning("could not renew a job's heartbeat: %s", error)


def _raise_failure(queued: Job) -> None:
    if queued.status is not Status.COMPLETE or not isinstance(queued.result, dict):
        # Run as often as it may be and never finished: each of its workers died.
        raise GenerationFailed(f"the job {queued.key} could not be run ({queued.status})")
    name, detail = queued.result.get("error"), queued.result.get("detail") or ""
    if name is None:
        return
    failure = _FAILURES.get(name)
    if failure is None:
        raise RuntimeError(f"the job {queued.key} failed with {name}: {detail}")
    raise failure(detail)
