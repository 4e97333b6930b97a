"""Work waits its turn under the model provider's limits: a burst is spread over time in the
queue (each job taking no worker before its turn), the book says when its page starts, and the
lease that guards the claim runs from then; a turn too far away is refused before anything."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.application.errors import RateLimited
from app.application.ports import JobKind, ProviderWork
from app.domain.book import BookState
from app.domain.values import ChildInput
from app.infrastructure.provider_capacity import ProviderLimits
from tests.unit.fakes import ALICE, BOB, T0, HeldQueue, World, make_spec

MINUTE = timedelta(minutes=1)


def limited(world: World, **limits: int | timedelta) -> HeldQueue:
    """The provider's limits set, and a queue that only records the jobs."""
    world.capacity.limits = ProviderLimits(**limits)  # type: ignore[arg-type]
    queue = HeldQueue()
    world.queue = queue
    return queue


async def test_with_no_provider_limit_nothing_waits(world: World) -> None:
    await world.started()
    await world.write()
    assert world.capacity.reserved == [timedelta(0), timedelta(0)]


async def test_a_page_beyond_the_providers_rate_waits_its_turn_in_the_queue(
    world: World,
) -> None:
    for user in (ALICE, BOB):  # opened before the limit is set
        await world.start_book().execute(user, make_spec())
    queue = limited(world, images_per_minute=2)  # a picture every 30 s
    first = await world.write_page().execute(ALICE, ChildInput("a map"), wait=False)
    second = await world.write_page().execute(BOB, ChildInput("a boat"), wait=False)

    [alice_job, bob_job] = queue.jobs
    assert (alice_job.delay, bob_job.delay) == (timedelta(0), timedelta(seconds=30))
    assert first.generation is not None and first.generation.work_starts_at is None
    assert second.generation is not None
    assert second.generation.work_starts_at == T0 + timedelta(seconds=30)
    # The claim's lease runs from its turn, so a page that waited is not given up for it.
    assert second.generation.lease_deadline == T0 + timedelta(seconds=30) + world.lease
    assert second.generation.waiting_until(T0) == T0 + timedelta(seconds=30)
    assert second.generation.waiting_until(T0 + timedelta(seconds=30)) is None
    assert second.state_at(T0 + timedelta(seconds=30) + world.lease / 2) is BookState.GENERATING


async def test_every_limited_resource_counts_and_the_scarcest_sets_the_pace(
    world: World,
) -> None:
    for user in (ALICE, BOB):
        await world.start_book().execute(user, make_spec())
    # A page is 2 text requests (3,000 tokens at 1,500 each) and a picture: by requests one
    # page every 2 s, by pictures every 1 s, by tokens (6,000 a minute) every 30 s.
    queue = limited(
        world,
        requests_per_minute=60,
        images_per_minute=60,
        tokens_per_minute=6_000,
        tokens_per_request=1_500,
    )
    await world.write_page().execute(ALICE, ChildInput("a map"), wait=False)
    await world.write_page().execute(BOB, ChildInput("a boat"), wait=False)
    assert [job.delay for job in queue.jobs] == [timedelta(0), timedelta(seconds=30)]


async def test_a_redraw_needs_only_a_picture_turn(world: World) -> None:
    await world.started()
    world.illustrator.script.fail_next()
    await world.write()  # its picture failed
    queue = limited(world, requests_per_minute=1, images_per_minute=60)
    await world.capacity.reserve(ProviderWork(requests=1))  # text requests wait a minute now
    await world.redraw_picture().execute(ALICE, 1, wait=False)
    [job] = queue.jobs
    assert job.kind is JobKind.PICTURE and job.delay == timedelta(0)


async def test_a_cover_waits_its_turn_and_its_opening_lease_covers_the_wait(
    world: World,
) -> None:
    queue = limited(world, images_per_minute=1)
    await world.capacity.reserve(ProviderWork(images=1))  # another book's cover: this minute
    claimed = await world.start_book().execute(ALICE, make_spec())  # its job is held
    [job] = queue.jobs
    assert job.kind is JobKind.COVER and job.delay == MINUTE
    assert claimed.state is BookState.INIT
    assert claimed.opening_deadline == T0 + MINUTE + world.lease
    assert await world.recover().run_once() == 0
    world.clock.advance(MINUTE + world.lease / 2)  # past the lease alone, not the wait + lease
    assert await world.recover().run_once() == 0


async def test_a_turn_further_than_the_longest_wait_is_refused_and_takes_nothing(
    world: World,
) -> None:
    for user in (ALICE, BOB):
        await world.start_book().execute(user, make_spec())
    queue = limited(world, images_per_minute=1, longest_wait=timedelta(seconds=30))
    await world.write_page().execute(ALICE, ChildInput("a map"), wait=False)
    before = world.limits.net()
    with pytest.raises(RateLimited) as refused:
        await world.write_page().execute(BOB, ChildInput("a boat"), wait=False)
    assert refused.value.retry_after_seconds == 30  # then the wait is within the longest
    assert len(queue.jobs) == 1
    bob = world.books.peek(BOB)
    assert bob is not None and bob.state is BookState.IN_PROGRESS and bob.pages == []
    assert world.limits.net() == before  # the page was given back to Bob's limits
