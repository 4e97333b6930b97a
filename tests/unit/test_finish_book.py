"""FinishBook: keep a done book for good; every step is safe to retry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from app.application.errors import (
    DatabaseUnavailable,
    ImageStorageUnavailable,
    NoBookInProgress,
    StoreUnavailable,
)
from app.application.ports import Image
from app.application.use_cases.finish_book import FINISH_STEPS, FinishBook
from app.domain.book import Book, BookState
from app.domain.errors import BeingFinished, BookNotDone, EmptyBook, InvalidBookState
from app.domain.finished import FinishedBook, FinishedBy
from app.domain.values import Title, UserId
from tests.unit.fakes import ALICE, BOB, T0, World, reached

TITLE = Title("Momo and the Glowing Map")


def permanent_keys(book: Book | FinishedBook, pages: int) -> list[str]:
    return sorted(
        [
            f"books/{book.id}/cover.png",
            *(f"books/{book.id}/pages/{n}.png" for n in range(1, pages + 1)),
        ]
    )


async def finish(
    world: World,
    user: UserId = ALICE,
    title: Title = TITLE,
    finished_by: FinishedBy = FinishedBy.USER,
    force: bool = False,
) -> FinishedBook:
    return await world.finish_book().execute(user, title, finished_by=finished_by, force=force)


def assert_finished_once(world: World, book: Book, pages: int) -> FinishedBook:
    """Exactly one row, every image permanent with its staged bytes, nothing staged, no book."""
    [row] = world.finished.rows()
    assert row.id == book.id
    assert world.images.permanent() == permanent_keys(book, pages)
    assert world.images.staged() == []
    assert world.books.peek(book.user_id) is None
    return row


# -- the happy path --------------------------------------------------------------------------


async def test_finishing_a_done_book_keeps_it_for_good(world: World) -> None:
    book = await world.done(page_count=3)
    staged_bytes: dict[str | int, Image] = {
        "cover": world.images.objects[book.cover_key or ""],
        **{p.number: world.images.objects[p.image_key or ""] for p in book.pages},
    }
    world.clock.advance(minutes=3)

    finished = await finish(world, title=Title("  Momo and the Glowing Map  "))

    assert finished.id == book.id
    assert finished.user_id == ALICE
    assert finished.title == TITLE
    assert finished.finished_by is FinishedBy.USER
    assert finished.finished_at == T0 + timedelta(minutes=3)
    assert finished.created_at == book.created_at
    assert finished.spec == book.spec
    assert finished.cover_key == f"books/{book.id}/cover.png"
    assert [(p.number, p.input, p.text, p.image_key) for p in finished.pages] == [
        (p.number, p.input, p.text, f"books/{book.id}/pages/{p.number}.png") for p in book.pages
    ]
    row = assert_finished_once(world, book, 3)
    assert row == finished
    assert world.images.objects[finished.cover_key] == staged_bytes["cover"]
    for page in finished.pages:
        assert world.images.objects[page.image_key] == staged_bytes[page.number]


async def test_finishing_leaves_other_users_books_alone(world: World) -> None:
    await world.done(page_count=1)
    bob = await world.started(user=BOB)
    await finish(world)
    assert world.books.peek(BOB) is not None
    assert bob.cover_key in world.images.staged()


async def test_the_same_finish_sent_again_after_the_book_is_kept_gets_the_kept_book(
    world: World,
) -> None:
    await world.done(page_count=1)
    first = await finish(world)
    again = await finish(world)  # its reply was lost: the same request, sent again
    assert again == first
    assert len(world.finished.rows()) == 1


async def test_another_finish_after_the_book_is_kept_is_told_it_was_finished(
    world: World,
) -> None:
    await world.done(page_count=1)
    await finish(world)
    with pytest.raises(BeingFinished, match="finished already"):
        await finish(world, title=Title("Another title"))
    with pytest.raises(BeingFinished):
        await finish(world, finished_by=FinishedBy.ADMIN)
    assert [row.title for row in world.finished.rows()] == [TITLE]


async def test_finishing_with_no_book_is_no_book_in_progress(world: World) -> None:
    with pytest.raises(NoBookInProgress):
        await finish(world)
    assert world.finished.rows() == []


# -- refusals --------------------------------------------------------------------------------


async def test_finishing_is_refused_unless_the_book_is_done(world: World) -> None:
    await world.started(page_count=3)
    await world.write("one")
    before = world.books.peek(ALICE)
    images = dict(world.images.objects)

    with pytest.raises(BookNotDone):
        await finish(world)

    after = world.books.peek(ALICE)
    assert after is not None
    assert before is not None
    assert (after.version, after.state) == (before.version, BookState.IN_PROGRESS)
    assert world.finished.rows() == []
    assert world.images.objects == images


async def test_finishing_is_refused_while_the_last_page_is_generating(world: World) -> None:
    await world.started(page_count=1)
    gate = world.context_generator.script.hold()
    task = asyncio.create_task(world.write("the end"))
    await reached(world.context_generator.script.started)

    with pytest.raises(BookNotDone):
        await finish(world)
    with pytest.raises(InvalidBookState):
        await finish(world, finished_by=FinishedBy.ADMIN, force=True)

    gate.set()
    await task
    assert (await finish(world)).spec.page_count == 1


# -- admin -----------------------------------------------------------------------------------


async def test_an_admin_finish_of_a_done_book_records_the_admin(world: World) -> None:
    book = await world.done(page_count=2)
    finished = await finish(world, finished_by=FinishedBy.ADMIN)
    assert finished.finished_by is FinishedBy.ADMIN
    assert assert_finished_once(world, book, 2).finished_by is FinishedBy.ADMIN


async def test_an_admin_force_finish_keeps_the_pages_written_so_far(world: World) -> None:
    await world.started(page_count=5)
    await world.write("one")
    book = await world.write("two")

    finished = await finish(world, finished_by=FinishedBy.ADMIN, force=True)

    assert finished.spec.page_count == 2
    assert [p.input for p in finished.pages] == ["one", "two"]
    assert finished.finished_by is FinishedBy.ADMIN
    assert_finished_once(world, book, 2)


async def test_an_admin_force_finish_of_a_book_with_no_page_is_refused(world: World) -> None:
    await world.started(page_count=5)
    with pytest.raises(EmptyBook):
        await finish(world, finished_by=FinishedBy.ADMIN, force=True)
    assert world.books.peek(ALICE) is not None
    assert world.finished.rows() == []
    assert world.images.permanent() == []


async def test_without_force_an_unfinished_book_is_refused_for_an_admin_too(world: World) -> None:
    await world.started(page_count=5)
    await world.write("one")
    with pytest.raises(BookNotDone):
        await finish(world, finished_by=FinishedBy.ADMIN)


# -- retries ---------------------------------------------------------------------------------

STEPS = [
    ("images", "promote", 0, ImageStorageUnavailable),
    ("images", "promote_copy", 2, ImageStorageUnavailable),
    ("finished", "add", 0, DatabaseUnavailable),
    ("images", "delete", 0, ImageStorageUnavailable),
    ("images", "delete_key", 1, ImageStorageUnavailable),
    ("books", "remove", 0, StoreUnavailable),
]
STEP_IDS = [
    "promote",
    "half-way through promote",
    "insert",
    "delete staged",
    "half-way through delete staged",
    "delete book in progress",
]


@pytest.mark.parametrize(("port", "operation", "after", "error"), STEPS, ids=STEP_IDS)
async def test_a_retry_after_a_failure_at_any_step_completes_the_same_book_once(
    world: World, port: str, operation: str, after: int, error: type[Exception]
) -> None:
    book = await world.done(page_count=3)
    getattr(world, port).faults.once(operation, after=after)

    with pytest.raises(error):
        await finish(world)
    world.clock.advance(minutes=1)
    finished = await finish(world)

    assert finished.id == book.id
    row = assert_finished_once(world, book, 3)
    assert row == finished
    assert world.finished.inserts == 1


@pytest.mark.parametrize(
    ("port", "operation", "after"),
    [("images", "delete", 0), ("books", "remove", 0)],
    ids=["delete staged", "delete book in progress"],
)
async def test_a_finish_that_failed_after_its_claim_is_completed_only_by_its_own_retry(
    world: World, port: str, operation: str, after: int
) -> None:
    await world.done(page_count=2)
    getattr(world, port).faults.once(operation, after=after)
    with pytest.raises(Exception, match="failed"):
        await finish(world, title=Title("First title"))
    world.clock.advance(minutes=1)

    with pytest.raises(BeingFinished):  # another title: another request, and it is told so
        await finish(world, title=Title("Second title"))
    finished = await finish(world, title=Title("First title"))

    assert finished.title == Title("First title")
    assert finished.finished_at == T0
    assert [row.title for row in world.finished.rows()] == [Title("First title")]


async def test_user_and_admin_finishing_at_once_one_wins_and_the_other_is_told(
    world: World,
) -> None:
    book = await world.done(page_count=2)
    user, admin = await asyncio.gather(
        finish(world),
        finish(world, title=Title("The admin's title"), finished_by=FinishedBy.ADMIN, force=True),
        return_exceptions=True,
    )
    won = [r for r in (user, admin) if isinstance(r, FinishedBook)]
    lost = [r for r in (user, admin) if not isinstance(r, FinishedBook)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], BeingFinished)
    assert assert_finished_once(world, book, 2) == won[0]


async def test_a_users_finish_that_failed_part_way_is_completed_by_recovery_not_an_admin(
    world: World,
) -> None:
    book = await world.done(page_count=2)
    world.books.faults.once("remove")
    with pytest.raises(StoreUnavailable):
        await finish(world)

    with pytest.raises(BeingFinished):
        await finish(world, title=Title("Admin"), finished_by=FinishedBy.ADMIN)
    assert await world.recover().run_once() == 0  # its lease has not passed
    world.clock.advance(world.finish_lease)
    assert await world.recover().run_once() == 1

    row = assert_finished_once(world, book, 2)
    assert (row.title, row.finished_by) == (TITLE, FinishedBy.USER)
    assert world.books.peek(ALICE) is None
    assert await finish(world) == row  # the user's retry, after recovery: the kept book


async def test_a_store_that_cannot_be_read_changes_nothing(world: World) -> None:
    await world.done(page_count=1)
    world.books.faults.once("get")
    with pytest.raises(StoreUnavailable):
        await finish(world)
    assert world.finished.rows() == []
    assert world.images.permanent() == []


# -- checkpoints (the failpoints of the crash tests) ---------------------------------------


class Crash(Exception):
    """Stands for the process dying at a checkpoint."""


def finish_with_checkpoint(world: World, checkpoint: Callable[[str], None]) -> FinishBook:
    return world.finish_book(checkpoint)


async def test_a_finish_passes_every_checkpoint_in_order(world: World) -> None:
    await world.done(page_count=2)
    passed: list[str] = []
    await finish_with_checkpoint(world, passed.append).execute(ALICE, TITLE)
    assert (
        tuple(passed)
        == FINISH_STEPS
        == (
            "after_claim",
            "after_copies",
            "after_insert",
            "after_staged_delete",
            "before_store_delete",
        )
    )


@pytest.mark.parametrize("step", FINISH_STEPS)
async def test_a_finish_stopped_at_any_checkpoint_is_completed_by_the_next_one(
    world: World, step: str
) -> None:
    book = await world.done(page_count=3)

    def crash_at(name: str) -> None:
        if name == step:
            raise Crash(name)

    with pytest.raises(Crash):
        await finish_with_checkpoint(world, crash_at).execute(ALICE, TITLE)
    world.clock.advance(minutes=5)
    finished = await finish(world)

    assert finished.id == book.id
    assert finished.finished_at == T0  # when the finish claimed the book
    assert assert_finished_once(world, book, 3) == finished
    assert world.finished.inserts == 1
