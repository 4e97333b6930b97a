"""StartBook: create the book, draw its cover, ask the opening questions, store it open."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from app.application.errors import (
    BookAlreadyInProgress,
    ContentRejected,
    GenerationFailed,
    IdempotencyKeyInUse,
    ImageStorageUnavailable,
    StoreUnavailable,
)
from app.application.image_keys import is_valid_key
from app.application.ports.generation import IllustrationKind
from app.application.use_cases.start_book import start_change
from app.domain.book import BookState
from app.domain.values import Language, Questions
from tests.unit.fakes import ALICE, BOB, LIFETIME, T0, World, make_spec, new_book, reached


async def test_stores_an_open_book_with_its_cover_and_opening_questions(world: World) -> None:
    book = await world.started(page_count=4)

    stored = world.books.peek(ALICE)
    assert stored is not None
    assert stored.id == book.id == UUID(int=1)
    assert stored.state is BookState.IN_PROGRESS
    assert stored.version == 1
    assert stored.pages == []
    assert stored.questions == Questions(("What does Momo see next?", "Who comes to help?"))
    assert stored.spec == make_spec(4)
    assert stored.created_at == stored.updated_at == T0
    assert stored.expires_at == T0 + LIFETIME.ttl
    assert (book.state, book.version, book.cover_key) == (
        stored.state,
        stored.version,
        stored.cover_key,
    )


async def test_the_cover_is_staged_under_the_users_and_books_staging_prefix(
    world: World,
) -> None:
    book = await world.started()
    assert book.cover_key == f"staging/alice/{book.id}/{book.id}.png"
    assert is_valid_key(book.cover_key)
    assert world.images.staged() == [book.cover_key]
    assert world.images.permanent() == []
    assert world.images.objects[book.cover_key].data.startswith(b"\x89PNG")


async def test_the_cover_is_drawn_from_the_setting_for_an_empty_story(world: World) -> None:
    spec = make_spec(3, setting="a snowy forest", language="ko", reader_age=5)
    await world.start_book().execute(ALICE, spec)
    [request] = world.illustrator.requests
    assert request.kind is IllustrationKind.COVER
    assert request.scene == "a snowy forest"
    assert request.page_number is None
    assert request.context.spec == spec
    assert request.context.spec.language is Language.KO
    assert request.context.pages == ()
    [asked] = world.question_generator.requests
    assert asked.pages == ()
    assert asked.next_page_number == 1


async def test_the_cover_and_the_questions_are_generated_concurrently(world: World) -> None:
    gate = world.illustrator.script.hold()
    task = asyncio.create_task(world.started())
    await reached(world.illustrator.script.started)
    await reached(
        world.question_generator.script.started
    )  # the questions began while the cover is held
    assert world.events[:2] == ["image:start", "questions:start"]
    assert "image:end" not in world.events
    gate.set()
    await task
    assert world.books.peek(ALICE) is not None


async def test_a_second_book_is_refused_and_nothing_is_generated(world: World) -> None:
    first = await world.started()
    calls = (world.illustrator.script.calls, world.question_generator.script.calls)
    images = dict(world.images.objects)

    with pytest.raises(BookAlreadyInProgress):
        await world.started(page_count=5)

    assert (world.illustrator.script.calls, world.question_generator.script.calls) == calls
    assert world.images.objects == images
    stored = world.books.peek(ALICE)
    assert stored is not None
    assert (stored.id, stored.version, stored.spec.page_count) == (first.id, 1, 3)


async def test_two_starts_at_once_store_exactly_one_book(world: World) -> None:
    results = await asyncio.gather(
        world.started(page_count=2), world.started(page_count=5), return_exceptions=True
    )
    books = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(books) == 1
    assert len(errors) == 1
    assert isinstance(errors[0], BookAlreadyInProgress)
    stored = world.books.peek(ALICE)
    assert stored is not None
    assert stored.id == books[0].id
    assert len(world.books) == 1


async def test_another_user_may_start_their_own_book(world: World) -> None:
    mine = await world.started()
    theirs = await world.started(user=BOB)
    assert mine.id != theirs.id
    assert theirs.cover_key is not None
    assert theirs.cover_key.startswith(f"staging/bob/{theirs.id}/")
    assert len(world.books) == 2


@pytest.mark.parametrize("failing", ["illustrator", "question_generator"])
async def test_a_generator_failure_stores_no_book(world: World, failing: str) -> None:
    getattr(world, failing).script.fail_next()
    with pytest.raises(GenerationFailed):
        await world.started()
    assert world.books.peek(ALICE) is None
    # A cover drawn before the questions failed stays staged, left to the lifecycle rule.
    assert world.images.permanent() == []
    assert len(world.images.staged()) == (1 if failing == "question_generator" else 0)


async def test_after_a_generator_failure_the_start_can_be_retried(world: World) -> None:
    world.illustrator.script.fail_next()
    with pytest.raises(GenerationFailed):
        await world.started()
    book = await world.started()
    assert world.books.peek(ALICE) is not None
    assert book.state is BookState.IN_PROGRESS


async def test_a_moderation_refusal_stores_nothing(world: World) -> None:
    world.question_generator.script.fail_next(ContentRejected("Let's try a kinder idea!"))
    with pytest.raises(ContentRejected):
        await world.started()
    assert world.books.peek(ALICE) is None


async def test_a_failing_generator_cancels_the_other_one(world: World) -> None:
    world.illustrator.script.hold()
    world.question_generator.script.fail_next()
    with pytest.raises(GenerationFailed):
        await world.started()
    assert world.illustrator.script.cancelled == 1
    assert world.books.peek(ALICE) is None


@pytest.mark.parametrize(
    "answer",
    [[], ["a", "b", "c", "d"], ["  "], ["fine", ""]],
    ids=["none", "four", "blank", "one blank"],
)
async def test_unusable_opening_questions_are_a_generation_failure(
    world: World, answer: list[str]
) -> None:
    world.question_generator.answer = answer
    with pytest.raises(GenerationFailed):
        await world.started()
    assert world.books.peek(ALICE) is None
    assert world.images.permanent() == []


async def test_opening_questions_are_trimmed(world: World) -> None:
    world.question_generator.answer = ["  Where does Momo live?  "]
    book = await world.started()
    assert book.questions.items == ("Where does Momo live?",)


async def test_an_image_storage_failure_stores_no_book(world: World) -> None:
    world.images.faults.once("put")
    with pytest.raises(ImageStorageUnavailable):
        await world.started()
    assert world.books.peek(ALICE) is None


async def test_a_store_failure_is_reported_as_store_unavailable(world: World) -> None:
    world.books.faults.once("add")
    with pytest.raises(StoreUnavailable):
        await world.started()
    assert world.books.peek(ALICE) is None


async def test_the_book_is_claimed_in_book_init_before_anything_is_generated(
    world: World,
) -> None:
    gate = world.illustrator.script.hold()  # the cover
    task = asyncio.create_task(world.started())
    await reached(world.illustrator.script.started)
    claimed = world.books.peek(ALICE)
    assert claimed is not None
    assert claimed.state is BookState.INIT
    assert claimed.cover_key is None
    assert claimed.opening_deadline == T0 + world.lease
    assert claimed.expiring_attempts_at == T0 + world.lease
    gate.set()
    book = await task
    assert book.id == claimed.id
    assert book.state is BookState.IN_PROGRESS
    assert book.opening_deadline is None and book.expiring_attempts_at is None


async def test_starts_at_once_generate_for_one_book_only(world: World) -> None:
    results = await asyncio.gather(*(world.started() for _ in range(10)), return_exceptions=True)
    assert sum(isinstance(r, BookAlreadyInProgress) for r in results) == 9
    assert len(world.context_generator.sheets) == 1  # one character sheet
    assert world.illustrator.script.calls == 1  # one cover
    assert len(world.moderator.checked) == 1


async def test_a_retry_of_a_start_still_opening_waits_for_the_same_cover(world: World) -> None:
    gate = world.illustrator.script.hold()
    first = asyncio.create_task(world.start_book().execute(ALICE, make_spec(), request_id="r1"))
    await reached(world.illustrator.script.started)
    retry = asyncio.create_task(world.start_book().execute(ALICE, make_spec(), request_id="r1"))
    await asyncio.sleep(0)
    assert not retry.done()  # it waits for the first request's cover job
    gate.set()
    opened, again = await asyncio.gather(first, retry)
    assert again.id == opened.id and again.state is BookState.IN_PROGRESS
    assert world.illustrator.script.calls == 1  # one cover


async def test_a_retry_of_a_start_whose_job_is_elsewhere_is_told_to_wait(world: World) -> None:
    opening = new_book()  # by a request of another process, whose in-process job is there
    opening.mark_change(start_change("r1"))
    world.books.put_directly(opening)
    with pytest.raises(IdempotencyKeyInUse):
        await world.start_book().execute(ALICE, make_spec(), request_id="r1")


async def test_an_opening_whose_process_died_is_removed_once_its_lease_passes(
    world: World,
) -> None:
    world.books.put_directly(new_book())  # claimed by a process that died before the cover
    with pytest.raises(BookAlreadyInProgress):
        await world.started()
    assert await world.recover().run_once() == 0  # its lease holds
    world.clock.advance(world.lease)
    assert await world.recover().run_once() == 1
    assert world.books.peek(ALICE) is None
    book = await world.started()
    assert book.state is BookState.IN_PROGRESS


async def test_a_start_whose_request_went_away_still_opens_its_book(world: World) -> None:
    gate = world.illustrator.script.hold()
    task = asyncio.create_task(world.start_book().execute(ALICE, make_spec(), request_id="r1"))
    await reached(world.illustrator.script.started)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.set()
    await world.jobs.wait()  # the cover's job runs on without its request
    opened = world.books.peek(ALICE)
    assert opened is not None and opened.state is BookState.IN_PROGRESS
    again = await world.start_book().execute(ALICE, make_spec(), request_id="r1")
    assert again.id == opened.id  # the retry gets it
    assert world.limits.net() == (0, 1)  # the cover was drawn: it stays counted


async def test_a_start_whose_book_is_gone_before_its_cover_is_stored_failed(
    world: World,
) -> None:
    gate = world.illustrator.script.hold()
    task = asyncio.create_task(world.started())
    await reached(world.illustrator.script.started)
    world.books.expire(ALICE)  # gone meanwhile (in chaos: abandoned by a run of its job)
    gate.set()
    with pytest.raises(GenerationFailed):  # a failed start (502), not "no book" (404)
        await task
    assert world.books.peek(ALICE) is None
