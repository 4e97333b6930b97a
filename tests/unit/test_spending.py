"""What a generation takes from the limits, and what it gives back: taken when it is asked for,
given back only when nothing was made (a request refused after the limits took it, a provider
that failed); what was made and paid for stays counted even when it is thrown away."""

from __future__ import annotations

import asyncio

import pytest

from app.application.errors import (
    BookAlreadyInProgress,
    ContentRejected,
    GenerationFailed,
)
from app.application.use_cases.start_book import COVER_COST
from app.application.use_cases.write_page import PAGE_COST
from app.domain.errors import GenerationInProgress
from app.domain.values import ChildInput
from tests.unit.fakes import ALICE, World, make_spec, reached


async def test_a_page_refused_by_moderation_gives_back_what_it_took(world: World) -> None:
    await world.started()
    world.limits.taken.clear()
    with pytest.raises(ContentRejected):
        await world.write("a scary monster")
    assert world.limits.taken == [PAGE_COST]
    assert world.limits.given_back == [PAGE_COST]
    assert world.limits.net() == (0, 0)


async def test_a_page_asked_for_while_one_is_written_gives_back_what_it_took(world: World) -> None:
    await world.started()
    world.limits.taken.clear()
    world.context_generator.script.hold()
    await world.write_page().execute(ALICE, ChildInput("one"), wait=False)
    with pytest.raises(GenerationInProgress):
        await world.write_page().execute(ALICE, ChildInput("two"), wait=False)
    assert world.limits.net() == (1, 1)  # the first page's only


async def test_a_book_whose_cover_cannot_be_made_gives_the_picture_back(world: World) -> None:
    world.illustrator.script.fail_next()
    with pytest.raises(GenerationFailed):
        await world.started()
    assert world.limits.taken == [COVER_COST]
    assert world.limits.net() == (0, 0)


async def test_a_second_start_while_the_first_draws_its_cover_is_refused_and_pays_nothing(
    world: World,
) -> None:
    gate = world.illustrator.script.hold()
    first = asyncio.create_task(world.start_book().execute(ALICE, make_spec(3)))
    await reached(world.illustrator.script.started)
    with pytest.raises(BookAlreadyInProgress):
        await world.start_book().execute(ALICE, make_spec(3))
    assert len(world.context_generator.sheets) == 1  # nothing generated for it
    assert world.illustrator.script.calls == 1
    assert len(world.moderator.checked) == 1  # the first start's only
    gate.set()
    await first
    assert world.limits.net() == (0, 1)
