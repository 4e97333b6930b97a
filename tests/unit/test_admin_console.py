"""AdminConsole with fakes: the lists, a day's totals, takedowns of any user's book, and the audit
log: a view written once it has succeeded, a finish once it is claimed, a takedown before it is
carried out (never for a refused action, nor for lists)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from app.application.errors import (
    BookNotFound,
    DatabaseUnavailable,
    ImageStorageUnavailable,
    NoBookInProgress,
)
from app.application.use_cases.admin import AdminConsole
from app.domain.audit import AdminAction
from app.domain.book import BookState
from app.domain.errors import InvalidBookState
from app.domain.finished import FinishedBook, FinishedBy
from app.domain.values import Title, UserId
from tests.unit.fakes import ALICE, BOB, World, reached

ROOT = UserId("root")


class Crash(Exception):
    """Stands for the process dying at a checkpoint."""


def console(world: World) -> AdminConsole:
    return world.use_cases().admin


async def kept(world: World, user: UserId = ALICE, title: str = "Momo") -> FinishedBook:
    await world.done(page_count=2, user=user)
    return await world.finish_book().execute(user, Title(title))


async def test_books_in_progress_of_every_user_newest_change_first(world: World) -> None:
    await world.started(user=ALICE)
    world.clock.advance(seconds=5)
    await world.started(user=BOB)
    page = await console(world).books_in_progress(state=None, user_id=None, limit=10, cursor=None)
    assert [b.user_id for b in page.items] == [BOB, ALICE] and page.next_cursor is None
    only = await console(world).books_in_progress(
        state=BookState.DONE, user_id=None, limit=10, cursor=None
    )
    assert only.items == []


async def test_a_book_past_its_lease_is_seen_as_holding_it(world: World) -> None:
    book = await world.started()
    assert not book.holds_passed_lease(world.clock.now())
    gate = world.context_generator.script.hold()
    task = asyncio.create_task(world.write())
    await reached(world.context_generator.script.started)
    [held] = (
        await console(world).books_in_progress(
            state=BookState.GENERATING, user_id=ALICE, limit=1, cursor=None
        )
    ).items
    assert not held.holds_passed_lease(world.clock.now())
    assert held.holds_passed_lease(world.clock.now() + world.lease)
    gate.set()
    await task


async def test_views_are_recorded_after_they_succeed(world: World) -> None:
    book = await world.started(user=BOB)
    assert (await console(world).book_in_progress(ROOT, BOB)).id == book.id
    finished = await kept(world, ALICE)
    assert (await console(world).finished_book(ROOT, finished.id)).book.id == finished.id

    with pytest.raises(NoBookInProgress):
        await console(world).book_in_progress(ROOT, UserId("nobody"))
    with pytest.raises(BookNotFound):
        await console(world).finished_book(ROOT, book.id)

    entries = world.audit.all()
    assert [(e.action, e.admin_id, e.user_id, e.book_id) for e in entries] == [
        (AdminAction.VIEW_BOOK_IN_PROGRESS, ROOT, BOB, book.id),
        (AdminAction.VIEW_BOOK, ROOT, ALICE, finished.id),
    ]
    assert all(e.at == world.clock.now() for e in entries)


async def test_a_finish_is_recorded_once_with_its_title_and_force(world: World) -> None:
    await world.started(page_count=3)
    await world.write()
    finished = await console(world).finish(
        ROOT, ALICE, Title("Short"), force=True, request_id="key-1"
    )
    again = await console(world).finish(ROOT, ALICE, Title("Short"), force=True, request_id="key-1")
    assert again.id == finished.id and finished.finished_by is FinishedBy.ADMIN
    [entry] = world.audit.all()
    assert entry.action is AdminAction.FINISH and entry.book_id == finished.id
    assert entry.detail == {"title": "Short", "force": True} and entry.user_id == ALICE


async def test_an_admin_finish_completed_by_recovery_is_recorded(world: World) -> None:
    await world.started(page_count=3)
    await world.write()

    def die_after_claim(step: str) -> None:
        if step == "after_claim":
            raise Crash(step)

    with pytest.raises(Crash):
        await world.use_cases(die_after_claim).admin.finish(
            ROOT, ALICE, Title("Short"), force=True, request_id="key-1"
        )
    world.clock.advance(world.finish_lease)
    assert await world.recover().run_once() == 1
    [row] = world.finished.rows()
    assert row.finished_by is FinishedBy.ADMIN
    [entry] = world.audit.all()
    assert (entry.action, entry.user_id, entry.book_id) == (AdminAction.FINISH, ALICE, row.id)
    assert entry.detail == {"title": "Short", "force": True}


async def test_a_finish_whose_entry_failed_is_recorded_by_its_retry(world: World) -> None:
    await world.done(page_count=2)
    world.audit.faults.once("record")
    with pytest.raises(DatabaseUnavailable):
        await console(world).finish(ROOT, ALICE, Title("Kept"), force=False, request_id="key-2")
    assert world.audit.all() == []
    world.clock.advance(world.finish_lease)
    assert await world.recover().run_once() == 1  # the claim held: the loop completed it
    kept = await console(world).finish(ROOT, ALICE, Title("Kept"), force=False, request_id="key-2")
    [entry] = world.audit.all()
    assert (entry.action, entry.book_id, entry.detail) == (
        AdminAction.FINISH,
        kept.id,
        {"title": "Kept", "force": False},
    )


async def test_a_refused_finish_is_not_recorded(world: World) -> None:
    await world.started(page_count=3)
    with pytest.raises(InvalidBookState):
        await console(world).finish(ROOT, ALICE, Title("Early"), force=False, request_id=None)
    assert world.audit.all() == []


async def test_a_takedown_deletes_any_users_book_and_is_recorded(world: World) -> None:
    finished = await kept(world, BOB, "Bob's")
    await console(world).take_down(ROOT, finished.id)
    assert await world.finished.get(finished.id) is None
    assert not [k for k in world.images.permanent() if str(finished.id) in k]
    [entry] = world.audit.all()
    assert (entry.action, entry.user_id, entry.book_id) == (AdminAction.TAKEDOWN, BOB, finished.id)
    assert entry.detail == {"title": "Bob's"}
    with pytest.raises(BookNotFound):
        await console(world).take_down(ROOT, finished.id)
    assert len(world.audit.all()) == 1


async def test_a_takedown_is_recorded_before_it_is_carried_out(world: World) -> None:
    finished = await kept(world, BOB, "Bob's")
    world.images.faults.once("delete")
    with pytest.raises(ImageStorageUnavailable):
        await console(world).take_down(ROOT, finished.id)
    [entry] = world.audit.all()
    assert (entry.action, entry.book_id) == (AdminAction.TAKEDOWN, finished.id)
    with pytest.raises(BookNotFound):  # the row went first: a retry finds nothing to take down
        await console(world).take_down(ROOT, finished.id)
    assert len(world.audit.all()) == 1


async def test_a_takedown_whose_entry_cannot_be_written_deletes_nothing(world: World) -> None:
    finished = await kept(world, BOB, "Bob's")
    world.audit.faults.once("record")
    with pytest.raises(DatabaseUnavailable):
        await console(world).take_down(ROOT, finished.id)
    assert await world.finished.get(finished.id) == finished
    await console(world).take_down(ROOT, finished.id)  # the retry
    assert await world.finished.get(finished.id) is None
    [entry] = world.audit.all()
    assert (entry.action, entry.book_id) == (AdminAction.TAKEDOWN, finished.id)


async def test_a_view_whose_share_link_cannot_be_read_is_not_recorded(world: World) -> None:
    finished = await kept(world, ALICE)
    world.share_links.faults.once("active")
    with pytest.raises(DatabaseUnavailable):
        await console(world).finished_book(ROOT, finished.id)
    assert world.audit.all() == []
    seen = await console(world).finished_book(ROOT, finished.id)
    assert (seen.book, seen.share_link) == (finished, None)
    assert [e.action for e in world.audit.all()] == [AdminAction.VIEW_BOOK]


async def test_an_action_whose_entry_cannot_be_written_fails(world: World) -> None:
    await world.started(user=BOB)
    world.audit.faults.always("record")
    with pytest.raises(DatabaseUnavailable):
        await console(world).book_in_progress(ROOT, BOB)


async def test_a_days_usage_is_of_the_utc_day_today_by_default(world: World) -> None:
    world.clock.set(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))
    await kept(world, ALICE)
    world.clock.advance(timedelta(hours=2))  # the next UTC day
    await kept(world, BOB)
    today = await console(world).usage_on(None)
    assert today.day == date(2026, 12, 2) and today.totals.books == 1
    yesterday = await console(world).usage_on(date(2026, 12, 1))
    assert yesterday.totals.books == 1
    books = world.finished.rows()
    assert yesterday.totals.usage == next(b.usage for b in books if b.user_id == ALICE)


async def test_finished_books_of_everyone_or_one_user(world: World) -> None:
    first = await kept(world, ALICE)
    world.clock.advance(seconds=1)
    second = await kept(world, BOB)
    every = await console(world).finished_books(None, 10, None)
    assert [s.id for s in every.items] == [second.id, first.id]
    bobs = await console(world).finished_books(BOB, 10, None)
    assert [s.id for s in bobs.items] == [second.id]
