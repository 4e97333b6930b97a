"""A generation job run again after its worker died (at-least-once delivery): it finds on the
book what the first run did, stores the page once, and uses a picture it had staged already."""

from __future__ import annotations

import asyncio

from app.application.ports import GenerationJob, JobKind
from app.domain.values import ChildInput, ImageStatus
from tests.unit.fakes import ALICE, HeldQueue, World, reached, wait_until


async def _accept(world: World, idea: str) -> GenerationJob:
    queue = HeldQueue()
    world.queue = queue
    await world.write_page().execute(ALICE, ChildInput(idea), wait=False)
    (job,) = queue.jobs
    assert job.kind is JobKind.PAGE
    return job


async def test_a_job_run_again_after_its_text_was_stored_only_draws_the_picture(
    world: World,
) -> None:
    await world.started(page_count=3)
    written_before = world.context_generator.script.calls
    job = await _accept(world, "a glowing map")
    gate = world.illustrator.script.hold()
    world.illustrator.script.started.clear()
    # The text is written and stored; the worker dies while the picture is drawn.
    run = asyncio.create_task(world.use_cases().jobs.run(job))
    await reached(world.illustrator.script.started)
    await wait_until(lambda: bool((book := world.books.peek(ALICE)) and book.pages))
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    assert world.books.peek(ALICE).pages[0].image_status is ImageStatus.PENDING  # type: ignore[union-attr]

    gate.set()
    await world.use_cases().jobs.run(job, redelivered=True)

    book = world.books.peek(ALICE)
    assert book is not None and [p.input for p in book.pages] == ["a glowing map"]
    assert book.pages[0].image_status is ImageStatus.READY
    assert world.context_generator.script.calls == written_before + 1  # written once


async def test_a_job_run_again_uses_the_picture_its_first_run_had_staged(world: World) -> None:
    await world.started(page_count=3)
    drawn_before = world.illustrator.script.calls
    job = await _accept(world, "a glowing map")
    gate = world.context_generator.script.hold()
    world.context_generator.script.started.clear()
    # The picture is drawn and staged; the worker dies while the text is written.
    run = asyncio.create_task(world.use_cases().jobs.run(job))
    await reached(world.context_generator.script.started)
    await wait_until(
        lambda: any(key.endswith(f"{job.attempt_id}.png") for key in world.images.objects)
    )
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    assert not world.books.peek(ALICE).pages  # type: ignore[union-attr]

    gate.set()
    await world.use_cases().jobs.run(job, redelivered=True)

    book = world.books.peek(ALICE)
    assert book is not None and [p.input for p in book.pages] == ["a glowing map"]
    assert book.pages[0].image_key is not None
    assert book.pages[0].image_key.endswith(f"{job.attempt_id}.png")
    assert world.illustrator.script.calls == drawn_before + 1  # not drawn a second time


async def test_a_job_run_again_after_it_finished_changes_nothing(world: World) -> None:
    await world.started(page_count=3)
    job = await _accept(world, "a glowing map")
    await world.use_cases().jobs.run(job)
    before = world.books.peek(ALICE)
    assert before is not None

    await world.use_cases().jobs.run(job, redelivered=True)

    after = world.books.peek(ALICE)
    assert after is not None and after.version == before.version
    assert [p.input for p in after.pages] == ["a glowing map"]
