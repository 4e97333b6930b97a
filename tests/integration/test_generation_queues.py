"""The generation queue's contract, on the in-process queue and on SAQ with a real Redis: a job
queued twice runs once, its failure reaches whoever awaits its result, an unknown job is
`JobNotFound`; SAQ's also runs a job again when its worker stops in the middle of it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry.trace import NoOpTracerProvider
from redis.asyncio import Redis

from app.application.background import BackgroundJobs
from app.application.errors import GenerationFailed, JobNotFound
from app.application.ports import GenerationJob, GenerationQueue, JobKind, JobRunner
from app.domain.values import UserId
from app.infrastructure.jobs.in_process import InProcessGenerationQueue
from app.infrastructure.jobs.saq_queue import SaqGenerationQueue
from app.infrastructure.metrics import ServiceMetrics
from tests.integration.services import service_url


class Runner(JobRunner):
    """Records each run; a job named in `failing` fails, one in `holding` waits for its gate."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, bool]] = []
        self.failing: set[str] = set()
        self.holding: dict[str, asyncio.Event] = {}
        self.started = asyncio.Event()
        self.started_at: dict[str, float] = {}

    async def run(self, job: GenerationJob, *, redelivered: bool = False) -> None:
        self.runs.append((job.attempt_id, redelivered))
        self.started_at[job.attempt_id] = time.monotonic()
        self.started.set()
        if (gate := self.holding.get(job.attempt_id)) is not None:
            await gate.wait()
        if job.attempt_id in self.failing:
            raise GenerationFailed(f"the page {job.attempt_id} could not be written")


def job() -> GenerationJob:
    return GenerationJob(JobKind.PAGE, UserId("alice"), uuid.uuid4(), str(uuid.uuid4()), "req-1")


Started = tuple[GenerationQueue, Runner, Callable[[], Any]]


@pytest.fixture(params=["in-process", "saq"])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[Started]:
    runner = Runner()
    if request.param == "in-process":
        jobs = BackgroundJobs()
        in_process = InProcessGenerationQueue(jobs=jobs)
        in_process.serve(runner)
        yield in_process, runner, jobs.close
        await jobs.close()
        return
    redis = Redis.from_url(service_url("LW_TEST_REDIS_URL"))
    saq = SaqGenerationQueue(
        redis=redis,
        job_timeout_seconds=30,
        tracer=NoOpTracerProvider().get_tracer(__name__),
        metrics=ServiceMetrics(),
        command_timeout_seconds=2.0,
        name=f"test-{uuid.uuid4().hex[:12]}",  # no other test's jobs, no other test's workers
    )
    await saq.connect()
    worker = saq.worker(runner, concurrency=4, grace_seconds=0)
    worker.start()
    yield saq, runner, worker.stop
    await worker.stop()
    await saq.close()


async def test_a_job_queued_twice_runs_once(queue: Started) -> None:
    generation_queue, runner, _ = queue
    queued = job()
    gate = runner.holding[queued.attempt_id] = asyncio.Event()
    await generation_queue.enqueue(queued)
    await asyncio.wait_for(runner.started.wait(), 10)
    await generation_queue.enqueue(queued)
    gate.set()
    await asyncio.wait_for(generation_queue.result(queued), 10)
    assert runner.runs == [(queued.attempt_id, False)]


async def test_a_failed_job_raises_its_failure_where_its_result_is_awaited(
    queue: Started,
) -> None:
    generation_queue, runner, _ = queue
    queued = job()
    runner.failing.add(queued.attempt_id)
    runner.holding[queued.attempt_id] = gate = asyncio.Event()
    await generation_queue.enqueue(queued)
    await asyncio.wait_for(runner.started.wait(), 10)
    gate.set()
    with pytest.raises(GenerationFailed, match="could not be written"):
        await asyncio.wait_for(generation_queue.result(queued), 10)


async def test_the_result_of_a_job_never_queued_is_not_found(queue: Started) -> None:
    generation_queue, _, _ = queue
    with pytest.raises(JobNotFound):
        await generation_queue.result(job())


@pytest.mark.services
async def test_a_job_whose_worker_stops_in_the_middle_runs_again_on_another() -> None:
    redis = Redis.from_url(service_url("LW_TEST_REDIS_URL"))
    tracer = NoOpTracerProvider().get_tracer(__name__)
    saq = SaqGenerationQueue(
        redis=redis,
        job_timeout_seconds=30,
        tracer=tracer,
        metrics=ServiceMetrics(),
        command_timeout_seconds=2.0,
        name=f"test-{uuid.uuid4().hex[:12]}",
    )
    await saq.connect()
    first, second = Runner(), Runner()
    queued = job()
    first.holding[queued.attempt_id] = asyncio.Event()  # never set: it is stopped mid-job
    worker = saq.worker(first, concurrency=1, grace_seconds=0)
    worker.start()
    try:
        await saq.enqueue(queued)
        await asyncio.wait_for(first.started.wait(), 10)
        await worker.stop()  # no grace: the job is cancelled and put back
        takeover = saq.worker(second, concurrency=1, grace_seconds=0)
        takeover.start()
        try:
            await asyncio.wait_for(saq.result(queued), 30)
        finally:
            await takeover.stop()
    finally:
        await saq.close()
    assert first.runs == [(queued.attempt_id, False)]
    assert second.runs == [(queued.attempt_id, True)]


async def test_a_job_is_not_started_before_its_turn(queue: Started) -> None:
    the_queue, runner, _ = queue
    waiting = replace(job(), delay=timedelta(seconds=1.5))
    queued_at = time.monotonic()
    await the_queue.enqueue(waiting)
    await asyncio.wait_for(the_queue.result(waiting), 15)
    started_after = runner.started_at[waiting.attempt_id] - queued_at
    assert 1.5 <= started_after < 6  # its turn, then at most a schedule round late
    assert await the_queue.waiting() == 0


async def test_a_job_just_taken_by_a_worker_is_not_swept_before_it_starts() -> None:
    """A worker that took a job and has not yet marked it active (a busy machine) keeps it at
    the next sweep; at the one after, a job still not started is put back."""
    redis = Redis.from_url(service_url("LW_TEST_REDIS_URL"))
    saq = SaqGenerationQueue(
        redis=redis,
        job_timeout_seconds=30,
        tracer=NoOpTracerProvider().get_tracer(__name__),
        metrics=ServiceMetrics(),
        command_timeout_seconds=2.0,
        name=f"test-{uuid.uuid4().hex[:12]}",
    )
    await saq.connect()
    try:
        queued = job()
        await saq.enqueue(queued)
        taken = await saq._queue.dequeue(timeout=1)  # as a worker's slot takes it
        assert taken is not None
        assert await saq._queue.sweep(lock=1) == []
        await asyncio.sleep(1.1)  # the sweep's lock passes
        assert await saq._queue.sweep(lock=1) == [taken.id]
    finally:
        await saq.close()
