"""BookSharing: one link per finished book, opened by its owner, read by anyone holding it,
until it is taken back, expires or the book is deleted."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.application.errors import BookNotFound
from app.domain.errors import InvalidValue
from app.domain.finished import FinishedBook
from app.domain.values import Title, UserId
from tests.unit.fakes import ALICE, BOB, T0, World

DAY = timedelta(days=1)


async def finished_book(world: World, user: UserId = ALICE) -> FinishedBook:
    await world.done(1, user)
    return await world.finish_book().execute(user, Title("Momo"), request_id=f"finish-{user}")


async def test_a_new_link_reads_the_book_and_says_when_it_was_made(world: World) -> None:
    book = await finished_book(world)
    shared = await world.use_cases().sharing.share(ALICE, book.id, None)
    assert shared.created and shared.link.created_at == T0 and shared.link.expires_at is None
    assert len(shared.token) == 43
    assert await world.use_cases().sharing.read(shared.token) == book


async def test_sharing_again_gives_the_same_link(world: World) -> None:
    book = await finished_book(world)
    first = await world.use_cases().sharing.share(ALICE, book.id, 30 * DAY)
    again = await world.use_cases().sharing.share(ALICE, book.id, None)
    assert not again.created
    assert (again.link, again.token) == (first.link, first.token)


async def test_two_shares_at_once_make_one_link(world: World) -> None:
    book = await finished_book(world)
    results = await asyncio.gather(
        *(world.use_cases().sharing.share(ALICE, book.id, None) for _ in range(5))
    )
    assert len({r.token for r in results}) == 1
    assert sum(r.created for r in results) >= 1


async def test_a_taken_back_link_is_not_found_and_a_new_one_differs(world: World) -> None:
    book = await finished_book(world)
    old = await world.use_cases().sharing.share(ALICE, book.id, None)
    await world.use_cases().sharing.unshare(ALICE, book.id)
    with pytest.raises(BookNotFound):
        await world.use_cases().sharing.read(old.token)
    new = await world.use_cases().sharing.share(ALICE, book.id, None)
    assert new.created and new.token != old.token


async def test_an_expired_link_is_not_found_and_a_new_one_replaces_it(world: World) -> None:
    book = await finished_book(world)
    old = await world.use_cases().sharing.share(ALICE, book.id, DAY)
    world.clock.advance(DAY)
    with pytest.raises(BookNotFound):
        await world.use_cases().sharing.read(old.token)
    seen = await world.use_cases().admin.finished_book(UserId("root"), book.id)
    assert seen.share_link is None  # the admin's view: no link open
    new = await world.use_cases().sharing.share(ALICE, book.id, None)
    assert new.created and await world.use_cases().sharing.read(new.token) == book


async def test_deleting_the_book_takes_its_link_with_it(world: World) -> None:
    book = await finished_book(world)
    shared = await world.use_cases().sharing.share(ALICE, book.id, None)
    await world.delete_finished().execute(ALICE, book.id)
    with pytest.raises(BookNotFound):
        await world.use_cases().sharing.read(shared.token)


async def test_only_the_owner_shares_or_takes_back(world: World) -> None:
    book = await finished_book(world)
    with pytest.raises(BookNotFound):
        await world.use_cases().sharing.share(BOB, book.id, None)
    shared = await world.use_cases().sharing.share(ALICE, book.id, None)
    with pytest.raises(BookNotFound):
        await world.use_cases().sharing.unshare(BOB, book.id)
    assert await world.use_cases().sharing.read(shared.token) == book


@pytest.mark.parametrize("token", ["", "x" * 43, "not-a-token"])
async def test_an_unknown_token_is_not_found(world: World, token: str) -> None:
    await finished_book(world)
    with pytest.raises(BookNotFound):
        await world.use_cases().sharing.read(token)


@pytest.mark.parametrize("days", [0, 366])
async def test_a_lifetime_outside_a_day_to_a_year_is_refused(world: World, days: int) -> None:
    book = await finished_book(world)
    with pytest.raises(InvalidValue):
        await world.use_cases().sharing.share(ALICE, book.id, timedelta(days=days))


async def test_the_token_is_kept_as_its_digest_only(world: World) -> None:
    book = await finished_book(world)
    shared = await world.use_cases().sharing.share(ALICE, book.id, None)
    [(link, digest)] = world.share_links._links.values()
    assert link == shared.link and shared.token not in digest
    assert digest == world.share_tokens.digest(shared.token)
