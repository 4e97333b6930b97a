"""A book changes in one atomic step: each defect found at the seams between writes, reproduced
with the fakes (a lost reply is a write that is stored and then raises), then shown fixed."""

from __future__ import annotations

import asyncio

import pytest

from app.application.background import BackgroundJobs
from app.application.errors import (
    BookAlreadyInProgress,
    IdempotencyKeyInUse,
    ImageStorageUnavailable,
    NoBookInProgress,
    StoreUnavailable,
    VersionConflict,
)
from app.domain.book import Book, BookState
from app.domain.errors import BeingFinished, InvalidBookState
from app.domain.finished import FinishedBook, FinishedBy
from app.domain.values import ChildInput, ImageStatus, Title
from tests.unit.fakes import ALICE, World, make_spec, reached

TITLE = Title("Momo and the Map")


def stored(world: World) -> Book:
    book = world.books.peek(ALICE)
    assert book is not None
    return book


async def test_a_page_whose_stored_text_lost_its_reply_is_stored_once(world: World) -> None:
    await world.started(page_count=3)
    world.books.faults.once("update_reply", after=1)  # the claim, then the text: reply lost

    book = await world.write("a map")

    assert [(p.number, p.input) for p in book.pages] == [(1, "a map")]
    assert [(p.number, p.input) for p in stored(world).pages] == [(1, "a map")]
    assert stored(world).pages[0].image_status is ImageStatus.READY


async def test_a_claim_whose_reply_was_lost_is_not_claimed_twice(world: World) -> None:
    await world.started(page_count=3)
    world.books.faults.once("update_reply")

    book = await world.write("a map")

    assert [p.input for p in book.pages] == ["a map"]
    assert world.context_generator.script.calls == 1


async def test_a_keyed_retry_of_a_page_that_was_stored_is_answered_from_the_book(
    world: World,
) -> None:
    await world.started(page_count=3)
    first = await world.write_page().execute(ALICE, ChildInput("a map"), request_id="key-1")
    calls = world.context_generator.script.calls

    # The process died before the key's response was kept: the same request comes again.
    again = await world.write_page().execute(ALICE, ChildInput("a map"), request_id="key-1")

    assert [p.input for p in again.pages] == ["a map"]
    assert again.version == first.version == stored(world).version
    assert world.context_generator.script.calls == calls


async def test_a_keyed_retry_while_its_page_is_written_elsewhere_is_told_to_wait(
    world: World,
) -> None:
    await world.started(page_count=3)
    gate = world.context_generator.script.hold()
    accepted = await world.write_page().execute(
        ALICE, ChildInput("a map"), wait=False, request_id="key-1"
    )
    await reached(world.context_generator.script.started)

    again_async = await world.write_page().execute(
        ALICE, ChildInput("a map"), wait=False, request_id="key-1"
    )
    waiting = asyncio.create_task(
        world.write_page().execute(ALICE, ChildInput("a map"), request_id="key-1")
    )
    await asyncio.sleep(0)
    assert not waiting.done()  # it waits for the same job, in this process
    gate.set()
    book = await waiting

    assert again_async.version == accepted.version  # the same accepted work, not a second one
    assert [p.input for p in book.pages] == ["a map"]
    assert world.context_generator.script.calls == 1


async def test_a_keyed_retry_while_its_page_is_written_by_another_process_is_told_to_wait(
    world: World,
) -> None:
    await world.started(page_count=3)
    gate = world.context_generator.script.hold()
    await world.write_page().execute(ALICE, ChildInput("more"), wait=False, request_id="key-2")
    here = world.jobs
    world.jobs = BackgroundJobs()  # another process: the job is not in it

    with pytest.raises(IdempotencyKeyInUse):
        await world.write_page().execute(ALICE, ChildInput("more"), request_id="key-2")

    gate.set()
    await here.wait()
    assert [p.input for p in stored(world).pages] == ["more"]


async def test_a_force_finish_racing_a_page_write_never_loses_an_acknowledged_page(
    world: World,
) -> None:
    await world.started(page_count=6)
    await world.write("one")
    await world.write("two")
    gate = world.context_generator.script.hold()
    page = asyncio.create_task(world.write("three"))
    await reached(world.context_generator.script.started)

    with pytest.raises(InvalidBookState):  # the page holds the book: the finish is refused
        await world.finish_book().execute(ALICE, TITLE, finished_by=FinishedBy.ADMIN, force=True)
    gate.set()
    book = await page

    assert [p.input for p in book.pages] == ["one", "two", "three"]
    kept = await world.finish_book().execute(ALICE, TITLE, finished_by=FinishedBy.ADMIN, force=True)
    assert [p.input for p in kept.pages] == ["one", "two", "three"]


async def test_a_page_write_after_a_force_finish_claimed_the_book_is_refused(
    world: World,
) -> None:
    await world.started(page_count=6)
    await world.write("one")
    world.images.faults.once("delete")  # the finish stops after its claim and its row
    with pytest.raises(ImageStorageUnavailable):
        await world.finish_book().execute(ALICE, TITLE, finished_by=FinishedBy.ADMIN, force=True)

    with pytest.raises(BeingFinished):
        await world.write("two")
    with pytest.raises(BeingFinished):
        await world.discard_book().execute(ALICE)
    assert [p.input for p in stored(world).pages] == ["one"]
    assert world.context_generator.script.calls == 1


async def test_a_finish_whose_final_removal_lost_its_reply_answers_the_kept_book(
    world: World,
) -> None:
    book = await world.done(page_count=2)
    world.books.faults.once("remove_reply")

    kept = await world.finish_book().execute(ALICE, TITLE)

    assert kept.id == book.id
    assert world.books.peek(ALICE) is None
    assert [row.id for row in world.finished.rows()] == [book.id]


async def test_a_finish_whose_removal_failed_is_not_acknowledged_and_completes_on_retry(
    world: World,
) -> None:
    book = await world.done(page_count=2)
    world.books.faults.once("remove")

    with pytest.raises(StoreUnavailable):
        await world.finish_book().execute(ALICE, TITLE)
    assert stored(world).finish_claim is not None  # still fenced: no page can slip in

    kept = await world.finish_book().execute(ALICE, TITLE)
    assert kept.id == book.id
    assert world.books.peek(ALICE) is None


async def test_two_finishes_at_once_one_wins_and_the_other_is_refused(world: World) -> None:
    await world.done(page_count=2)
    results = await asyncio.gather(
        world.finish_book().execute(ALICE, Title("User's")),
        world.finish_book().execute(ALICE, Title("Admin's"), finished_by=FinishedBy.ADMIN),
        return_exceptions=True,
    )
    [won] = [r for r in results if isinstance(r, FinishedBook)]
    [lost] = [r for r in results if not isinstance(r, FinishedBook)]
    assert isinstance(lost, BeingFinished)
    assert [row.title for row in world.finished.rows()] == [won.title]


async def test_the_recovery_loop_completes_a_finish_whose_process_died(world: World) -> None:
    book = await world.done(page_count=2)

    class Crash(Exception):
        pass

    def die_after_insert(step: str) -> None:
        if step == "after_insert":
            raise Crash(step)

    with pytest.raises(Crash):
        await world.finish_book(die_after_insert).execute(ALICE, TITLE)
    world.clock.advance(world.finish_lease)
    assert await world.recover().run_once() == 1

    assert world.books.peek(ALICE) is None
    assert world.images.staged() == []
    assert [row.id for row in world.finished.rows()] == [book.id]
    new = await world.started(page_count=1)  # the user can start again at once
    assert new.state is BookState.IN_PROGRESS


async def test_a_keyed_retry_of_a_book_start_whose_answer_was_lost_gets_its_book(
    world: World,
) -> None:
    first = await world.start_book().execute(ALICE, make_spec(3), request_id="key-1")
    sheets = len(world.context_generator.sheets)

    again = await world.start_book().execute(ALICE, make_spec(3), request_id="key-1")

    assert again.id == first.id
    assert len(world.context_generator.sheets) == sheets  # nothing generated again
    with pytest.raises(BookAlreadyInProgress):
        await world.start_book().execute(ALICE, make_spec(3), request_id="key-2")
    with pytest.raises(BookAlreadyInProgress):
        await world.start_book().execute(ALICE, make_spec(3))


async def test_a_keyed_retry_of_a_redraw_whose_answer_was_lost_gets_its_picture(
    world: World,
) -> None:
    await world.started(page_count=3)
    world.illustrator.script.fail_next()
    await world.write("a map")
    drawn = await world.redraw_picture().execute(ALICE, 1, request_id="key-1")
    calls = world.illustrator.script.calls

    again = await world.redraw_picture().execute(ALICE, 1, request_id="key-1")

    assert again.pages[0].image_status is ImageStatus.READY
    assert again.pages[0].image_key == drawn.pages[0].image_key
    assert world.illustrator.script.calls == calls  # not drawn again
    with pytest.raises(InvalidBookState):  # another request: there is nothing to draw
        await world.redraw_picture().execute(ALICE, 1, request_id="key-2")


async def test_a_discard_whose_removal_was_sent_again_after_a_lost_reply_is_a_discard(
    world: World,
) -> None:
    await world.started(page_count=3)
    # Removed, the reply lost, and the resent command finds the book gone: a conflict.
    world.books.faults.once("remove_reply", VersionConflict("the book is gone"))

    await world.discard_book().execute(ALICE)

    assert world.books.peek(ALICE) is None
    with pytest.raises(NoBookInProgress):  # a discard with nothing to discard is still a 404
        await world.discard_book().execute(ALICE)
