"""ReconcileImages: permanent images no finished book claims are found, and removed on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Collection
from datetime import timedelta
from typing import TypeVar
from uuid import UUID

import pytest

from app.application.errors import DatabaseUnavailable, ImageStorageUnavailable
from app.application.image_keys import STAGING_PREFIX
from app.application.ports import Image, StoredObject
from app.application.use_cases.reconcile import DEFAULT_GRACE, ReconcileImages, ReconcileReport
from app.domain.finished import FinishedBook
from app.domain.values import Title, UserId
from tests.unit.fakes import ALICE, BOB, PNG, World, reached

TITLE = Title("Momo and the Glowing Map")
GRACE = timedelta(hours=1)
T = TypeVar("T")
LOST = UUID("0d5e1a9c-0000-4000-8000-00000000a11e")


class Crash(Exception):
    """Stands for the process dying at a step of a finish."""


def reconcile(world: World, grace: timedelta = GRACE) -> ReconcileImages:
    return ReconcileImages(world.images, world.finished, world.clock, grace)


async def run(world: World, *, apply: bool = False, grace: timedelta = GRACE) -> ReconcileReport:
    return await reconcile(world, grace).execute(apply=apply)


async def finished_book(world: World, user: UserId = ALICE, pages: int = 2) -> FinishedBook:
    await world.done(page_count=pages, user=user)
    return await world.finish_book().execute(user, TITLE)


async def crashed_after_copies(world: World, user: UserId = ALICE, pages: int = 2) -> UUID:
    """A finish that died after copying the images and before inserting its row."""
    book = await world.done(page_count=pages, user=user)

    def crash(step: str) -> None:
        if step == "after_copies":
            raise Crash(step)

    finish = world.finish_book(crash)
    with pytest.raises(Crash):
        await finish.execute(user, TITLE)
    return book.id


async def stray_images(world: World, book_id: UUID = LOST, pages: int = 2) -> list[str]:
    """Permanent images of a book that has no row, last written long ago (the fakes' default)."""
    keys = [f"books/{book_id}/cover.png", *(f"books/{book_id}/pages/{n}.png" for n in range(1, 3))]
    keys = keys[: pages + 1]
    for key in keys:
        await world.images.put(key, Image(PNG))
    return sorted(keys)


# -- finding and deleting ----------------------------------------------------------------------


async def test_a_dry_run_lists_the_images_no_book_claims_and_deletes_nothing(world: World) -> None:
    kept = await finished_book(world)
    orphans = await stray_images(world)
    before = dict(world.images.objects)

    report = await run(world)

    assert report == ReconcileReport(
        orphans=tuple(orphans),
        orphan_books=1,
        applied=False,
        scanned=len(kept.image_keys()) + len(orphans),
        kept_recent=0,
        kept_staged=0,
    )
    assert world.images.objects == before
    assert "dry run" in report.summary() and "3 orphan image(s) of 1 book(s)" in report.summary()


async def test_apply_deletes_the_orphans_and_leaves_every_finished_book_alone(
    world: World,
) -> None:
    alice = await finished_book(world, ALICE)
    bob = await finished_book(world, BOB, pages=3)
    orphans = await stray_images(world)

    report = await run(world, apply=True)

    assert report.applied and report.orphans == tuple(orphans)
    assert report.summary().startswith("deleted 3 orphan image(s) of 1 book(s)")
    assert world.images.permanent() == sorted([*alice.image_keys(), *bob.image_keys()])
    for book in (alice, bob):
        assert await world.queries().finished(book.id, owner=book.user_id) == book
    assert (await run(world, apply=True)).orphans == ()


async def test_the_images_of_a_book_deleted_half_way_are_orphans(world: World) -> None:
    book = await finished_book(world, pages=3)
    await world.finished.delete(book.id)  # the row went, then the process died

    report = await run(world, apply=True)

    assert report.orphans == tuple(sorted(book.image_keys()))
    assert world.images.permanent() == []


async def test_nothing_stored_is_nothing_to_do(world: World) -> None:
    report = await run(world, apply=True)
    assert report == ReconcileReport((), 0, True, 0, 0, 0)
    assert "existing_ids" not in world.finished.faults.calls


async def test_the_rows_are_asked_for_once_for_every_book(world: World) -> None:
    await finished_book(world, ALICE)
    await finished_book(world, BOB)
    await stray_images(world)
    await run(world)
    assert world.finished.faults.calls["existing_ids"] == 1


# -- what is never reconciled ------------------------------------------------------------------


async def test_images_younger_than_the_grace_period_are_kept(world: World) -> None:
    orphans = await stray_images(world)
    for key in orphans:
        world.images.set_modified(key, world.clock.now() - GRACE + timedelta(minutes=1))

    report = await run(world, apply=True)
    assert (report.orphans, report.kept_recent) == ((), 3)
    assert world.images.permanent() == orphans

    world.clock.advance(minutes=1)
    assert (await run(world, apply=True)).orphans == tuple(orphans)
    assert world.images.permanent() == []


async def test_one_recent_image_keeps_its_whole_book(world: World) -> None:
    orphans = await stray_images(world)
    world.images.set_modified(orphans[-1], world.clock.now())
    report = await run(world, apply=True)
    assert (report.orphans, report.kept_recent) == ((), 3)


async def test_the_default_grace_period_is_an_hour(world: World) -> None:
    assert timedelta(hours=1) == DEFAULT_GRACE
    [key] = await stray_images(world, pages=0)
    world.images.set_modified(key, world.clock.now() - timedelta(minutes=59))
    report = await ReconcileImages(world.images, world.finished, world.clock).execute()
    assert report.kept_recent == 1


async def test_a_finish_that_died_after_its_copies_is_kept_while_its_book_is_staged(
    world: World,
) -> None:
    book_id = await crashed_after_copies(world)
    world.clock.advance(days=1)

    report = await run(world, apply=True)

    assert (report.orphans, report.kept_staged) == ((), 3)
    finished = await world.finish_book().execute(ALICE, TITLE)  # the retry completes it
    assert finished.id == book_id
    for key in finished.image_keys():
        assert key in world.images.objects
    assert (await run(world, apply=True)).orphans == ()


async def test_once_such_a_book_is_gone_and_its_staged_images_expired_its_copies_are_orphans(
    world: World,
) -> None:
    book_id = await crashed_after_copies(world)
    world.books.expire(ALICE)  # left to expire (a finish is never discarded)
    await world.images.delete(world.images.staged())  # the staging lifetime passed

    report = await run(world, apply=True)

    assert len(report.orphans) == 3 and report.orphan_books == 1
    assert all(key.startswith(f"books/{book_id}/") for key in report.orphans)
    assert world.images.permanent() == []


@pytest.mark.parametrize("reconcile_lead", range(-8, 9))
async def test_reconciling_while_a_crashed_finish_is_retried_never_loses_an_image(
    reconcile_lead: int,
) -> None:
    """Every interleaving of the retry with a reconcile that has no grace period at all: each
    fake call yields once, and one side starts `reconcile_lead` turns before the other."""
    world = World()
    await crashed_after_copies(world, pages=3)
    world.clock.advance(days=1)

    async def after(turns: int, work: Awaitable[T]) -> T:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await work

    finished, report = await asyncio.gather(
        after(max(reconcile_lead, 0), world.finish_book().execute(ALICE, TITLE)),
        after(max(-reconcile_lead, 0), run(world, apply=True, grace=timedelta(0))),
    )

    assert report.orphans == ()
    assert [row.id for row in world.finished.rows()] == [finished.id]
    assert world.images.permanent() == sorted(finished.image_keys())
    assert world.images.staged() == []


async def test_a_finish_completed_between_the_two_looks_of_a_reconcile_is_never_an_orphan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry stores its row and deletes its staged images while the reconcile is paused
    after its first look (staged images or rows, whichever it takes first)."""
    await crashed_after_copies(world)
    world.clock.advance(days=1)
    paused, resume = asyncio.Event(), asyncio.Event()
    looks: list[str] = []
    list_objects, existing_ids = world.images.list_objects, world.finished.existing_ids

    async def look(name: str, answer: T) -> T:
        looks.append(name)
        if len(looks) == 1:
            paused.set()
            await resume.wait()
        return answer

    async def listing(prefix: str) -> list[StoredObject]:
        objects = await list_objects(prefix)
        return await look("staged", objects) if prefix == STAGING_PREFIX else objects

    async def asking(book_ids: Collection[UUID]) -> set[UUID]:
        return await look("rows", await existing_ids(book_ids))

    monkeypatch.setattr(world.images, "list_objects", listing)
    monkeypatch.setattr(world.finished, "existing_ids", asking)
    reconciling = asyncio.create_task(run(world, apply=True, grace=timedelta(0)))
    await reached(paused)
    finished = await world.finish_book().execute(ALICE, TITLE)
    resume.set()

    assert (await reconciling).orphans == ()
    assert looks == ["staged", "rows"]
    assert world.images.permanent() == sorted(finished.image_keys())


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "operation", "after", "error"),
    [
        ("images", "list_objects", 0, ImageStorageUnavailable),
        ("images", "list_objects", 1, ImageStorageUnavailable),
        ("finished", "existing_ids", 0, DatabaseUnavailable),
    ],
    ids=["listing permanent images", "listing staged images", "asking for the rows"],
)
async def test_a_backend_failure_before_deciding_deletes_nothing(
    world: World, port: str, operation: str, after: int, error: type[Exception]
) -> None:
    await finished_book(world)
    await stray_images(world)
    before = dict(world.images.objects)
    getattr(world, port).faults.once(operation, after=after)

    with pytest.raises(error):
        await run(world, apply=True)
    assert world.images.objects == before


async def test_a_failed_delete_is_finished_by_the_next_run(world: World) -> None:
    await stray_images(world, LOST)
    await stray_images(world, UUID(int=0x5EC0))
    world.images.faults.once("delete", after=1)

    with pytest.raises(ImageStorageUnavailable):
        await run(world, apply=True)
    assert len(world.images.permanent()) == 3
    assert len((await run(world, apply=True)).orphans) == 3
    assert world.images.permanent() == []


def test_a_negative_grace_period_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="negative"):
        reconcile(world, timedelta(seconds=-1))
