"""ExportBook: a finished book's PDF or EPUB is made once, kept beside its pictures and served
from there; its owner or its share link gets it; deleting the book deletes its exports."""

from __future__ import annotations

import pytest

from app.application.errors import BookNotFound
from app.application.image_keys import export_key
from app.application.ports.exports import ExportFormat
from app.domain.finished import FinishedBook
from app.domain.values import Title, UserId
from tests.unit.fakes import ALICE, BOB, World


async def finished_book(world: World, user: UserId = ALICE) -> FinishedBook:
    await world.done(2, user)
    return await world.finish_book().execute(user, Title("Momo"), request_id=f"finish-{user}")


@pytest.mark.parametrize("export_format", list(ExportFormat))
async def test_an_export_is_made_once_and_then_served_from_storage(
    world: World, export_format: ExportFormat
) -> None:
    book = await finished_book(world)
    exports = world.use_cases().exports
    first = await exports.own(ALICE, book.id, export_format)
    again = await exports.own(ALICE, book.id, export_format)
    assert first == again == (book, f"{export_format.value}:{book.id}:2".encode())
    assert world.renderer.made == [(book.id, export_format)]
    key = export_key(book.id, export_format.value)
    assert world.images.exports[key] == (first[1], export_format.media_type)


async def test_a_shared_book_is_exported_by_its_link_only_while_it_works(world: World) -> None:
    book = await finished_book(world)
    shared = await world.use_cases().sharing.share(ALICE, book.id, None)
    assert (await world.use_cases().exports.shared(shared.token, ExportFormat.PDF))[0] == book
    await world.use_cases().sharing.unshare(ALICE, book.id)
    with pytest.raises(BookNotFound):
        await world.use_cases().exports.shared(shared.token, ExportFormat.PDF)


async def test_another_users_book_is_not_exported(world: World) -> None:
    book = await finished_book(world)
    with pytest.raises(BookNotFound):
        await world.use_cases().exports.own(BOB, book.id, ExportFormat.EPUB)
    assert world.renderer.made == []


async def test_deleting_the_book_deletes_its_exports(world: World) -> None:
    book = await finished_book(world)
    for export_format in ExportFormat:
        await world.use_cases().exports.own(ALICE, book.id, export_format)
    await world.delete_finished().execute(ALICE, book.id)
    assert world.images.exports == {}
    assert world.images.permanent() == []


async def test_an_export_that_cannot_be_kept_is_still_given(world: World) -> None:
    book = await finished_book(world)
    world.images.faults.once("put_export")
    first = await world.use_cases().exports.own(ALICE, book.id, ExportFormat.PDF)
    assert first[1].startswith(b"pdf:") and world.images.exports == {}
    await world.use_cases().exports.own(ALICE, book.id, ExportFormat.PDF)  # made again, kept
    assert len(world.renderer.made) == 2 and len(world.images.exports) == 1
