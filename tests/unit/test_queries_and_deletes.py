"""DiscardBook, DeleteFinishedBook and BookQueries: a user only ever sees their own books."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from app.application.errors import (
    BookNotFound,
    DatabaseUnavailable,
    InvalidCursor,
    NoBookInProgress,
)
from app.domain.book import BookState
from app.domain.finished import FinishedBook
from app.domain.values import Title, UserId
from tests.unit.fakes import ALICE, BOB, World, reached


async def finished_book(world: World, user: UserId = ALICE, title: str = "Momo") -> FinishedBook:
    await world.done(page_count=2, user=user)
    return await world.finish_book().execute(user, Title(title))


# -- DiscardBook -----------------------------------------------------------------------------


async def test_discard_removes_the_book_in_progress(world: World) -> None:
    book = await world.started()
    await world.discard_book().execute(ALICE)
    assert world.books.peek(ALICE) is None
    assert book.cover_key in world.images.staged()  # staged images are left to expire


async def test_discard_with_no_book_is_no_book_in_progress(world: World) -> None:
    with pytest.raises(NoBookInProgress):
        await world.discard_book().execute(ALICE)


async def test_discard_twice_is_no_book_in_progress_the_second_time(world: World) -> None:
    await world.started()
    await world.discard_book().execute(ALICE)
    with pytest.raises(NoBookInProgress):
        await world.discard_book().execute(ALICE)


async def test_discard_works_while_a_page_is_generating(world: World) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    task = asyncio.create_task(world.write())
    await reached(world.context_generator.script.started)
    held = world.books.peek(ALICE)
    assert held is not None
    assert held.state is BookState.GENERATING

    await world.discard_book().execute(ALICE)

    assert world.books.peek(ALICE) is None
    gate.set()
    with pytest.raises(NoBookInProgress):
        await task


async def test_discard_leaves_other_users_books_alone(world: World) -> None:
    await world.started()
    await world.started(user=BOB)
    await world.discard_book().execute(ALICE)
    assert world.books.peek(BOB) is not None


async def test_after_a_discard_a_new_book_can_be_started(world: World) -> None:
    first = await world.started()
    await world.discard_book().execute(ALICE)
    second = await world.started()
    assert second.id != first.id
    assert second.version == 1


# -- DeleteFinishedBook ----------------------------------------------------------------------


async def test_delete_removes_the_row_and_its_permanent_images(world: World) -> None:
    book = await finished_book(world)
    assert world.images.permanent()

    await world.delete_finished().execute(ALICE, book.id)

    assert world.finished.rows() == []
    assert world.images.permanent() == []


async def test_delete_keeps_the_users_other_books(world: World) -> None:
    first = await finished_book(world, title="First")
    second = await finished_book(world, title="Second")
    await world.delete_finished().execute(ALICE, first.id)
    assert [b.id for b in world.finished.rows()] == [second.id]
    assert all(key.startswith(f"books/{second.id}/") for key in world.images.permanent())
    assert len(world.images.permanent()) == 3


async def test_deleting_another_users_book_is_not_found_and_changes_nothing(
    world: World,
) -> None:
    book = await finished_book(world, user=BOB)
    images = dict(world.images.objects)

    with pytest.raises(BookNotFound):
        await world.delete_finished().execute(ALICE, book.id)

    assert [b.id for b in world.finished.rows()] == [book.id]
    assert world.images.objects == images


async def test_deleting_an_unknown_book_is_not_found(world: World) -> None:
    with pytest.raises(BookNotFound):
        await world.delete_finished().execute(ALICE, UUID(int=404))


async def test_deleting_a_deleted_book_is_not_found(world: World) -> None:
    book = await finished_book(world)
    await world.delete_finished().execute(ALICE, book.id)
    with pytest.raises(BookNotFound):
        await world.delete_finished().execute(ALICE, book.id)


async def test_delete_removes_the_row_first_so_a_failed_delete_keeps_the_images(
    world: World,
) -> None:
    book = await finished_book(world)
    world.finished.faults.once("delete")
    with pytest.raises(DatabaseUnavailable):
        await world.delete_finished().execute(ALICE, book.id)
    assert [b.id for b in world.finished.rows()] == [book.id]
    assert len(world.images.permanent()) == 3


# -- BookQueries -----------------------------------------------------------------------------


async def test_current_is_the_users_book_in_progress(world: World) -> None:
    book = await world.started()
    current = await world.queries().current(ALICE)
    assert current.id == book.id
    assert current.version == book.version


async def test_current_with_no_book_is_no_book_in_progress(world: World) -> None:
    await world.started(user=BOB)
    with pytest.raises(NoBookInProgress):
        await world.queries().current(ALICE)


async def test_reading_the_current_book_does_not_change_it(world: World) -> None:
    await world.started()
    writes = world.books.writes
    before = world.books.peek(ALICE)
    world.clock.advance(hours=5)
    await world.queries().current(ALICE)
    after = world.books.peek(ALICE)
    assert world.books.writes == writes
    assert before is not None
    assert after is not None
    assert (after.version, after.updated_at, after.expires_at) == (
        before.version,
        before.updated_at,
        before.expires_at,
    )


async def test_a_user_reads_their_own_finished_book(world: World) -> None:
    book = await finished_book(world)
    assert await world.queries().finished(book.id, owner=ALICE) == book


async def test_another_users_finished_book_is_not_found(world: World) -> None:
    book = await finished_book(world, user=BOB)
    with pytest.raises(BookNotFound):
        await world.queries().finished(book.id, owner=ALICE)


async def test_an_unknown_finished_book_is_not_found(world: World) -> None:
    with pytest.raises(BookNotFound):
        await world.queries().finished(UUID(int=404), owner=ALICE)
    with pytest.raises(BookNotFound):
        await world.queries().finished(UUID(int=404), owner=None)


async def test_an_admin_reads_any_users_finished_book(world: World) -> None:
    book = await finished_book(world, user=BOB)
    assert await world.queries().finished(book.id, owner=None) == book


async def test_the_shelf_lists_only_the_users_books_newest_first_in_pages(
    world: World,
) -> None:
    titles = []
    for n in range(3):
        world.clock.advance(minutes=1)
        titles.append((await finished_book(world, title=f"Book {n}")).title.value)
    world.clock.advance(minutes=1)
    await finished_book(world, user=BOB, title="Not yours")

    first = await world.queries().shelf(ALICE, limit=2, cursor=None)
    assert [s.title.value for s in first.items] == ["Book 2", "Book 1"]
    assert first.next_cursor is not None
    second = await world.queries().shelf(ALICE, limit=2, cursor=first.next_cursor)
    assert [s.title.value for s in second.items] == ["Book 0"]
    assert second.next_cursor is None
    assert all(s.user_id == ALICE for s in [*first.items, *second.items])


async def test_the_shelf_refuses_a_cursor_it_did_not_hand_out(world: World) -> None:
    with pytest.raises(InvalidCursor):
        await world.queries().shelf(ALICE, limit=20, cursor="made-up")


async def test_an_empty_shelf_has_no_items_and_no_cursor(world: World) -> None:
    page = await world.queries().shelf(ALICE, limit=20, cursor=None)
    assert page.items == []
    assert page.next_cursor is None
