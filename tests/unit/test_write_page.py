"""WritePage: claim the book, write text and draw concurrently, store the page."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import pytest

from app.application.errors import (
    ContentRejected,
    GenerationFailed,
    ImageStorageUnavailable,
    NoBookInProgress,
    StoreUnavailable,
)
from app.application.image_keys import is_valid_key
from app.application.ports.generation import IllustrationKind
from app.domain.book import Book, BookState
from app.domain.errors import BookComplete, GenerationInProgress, InvalidBookState, StaleGeneration
from app.domain.values import ChildInput, ImageStatus, Questions
from tests.unit.fakes import (
    ALICE,
    BOB,
    LEASE,
    LIFETIME,
    T0,
    World,
    opened_book,
    reached,
    wait_until,
)


def stored(world: World) -> Book:
    book = world.books.peek(ALICE)
    assert book is not None
    return book


def in_flight(world: World, text: str = "Momo finds a map") -> asyncio.Task[Book]:
    return asyncio.create_task(world.write(text))


# -- the happy path --------------------------------------------------------------------------


async def test_writes_page_1_with_its_text_illustration_and_next_questions(world: World) -> None:
    start = await world.started(page_count=3)
    world.question_generator.answer = ["  Where does the map lead?  "]
    world.clock.advance(seconds=10)

    book = await world.write("  Momo finds a glowing map  ")

    [page] = book.pages
    assert page.number == 1
    assert page.input == "Momo finds a glowing map"
    assert page.text == "Page 1. Momo finds a glowing map, and then it happened."
    assert page.image_key == f"staging/alice/{start.id}/{world.ids.issued[-1]}.png"
    assert is_valid_key(page.image_key)
    assert page.image_key in world.images.staged()
    assert book.state is BookState.IN_PROGRESS
    assert book.questions == Questions(("Where does the map lead?",))
    assert book.generation is None
    assert book.updated_at == T0 + timedelta(seconds=10)
    assert book.expires_at == T0 + timedelta(seconds=10) + LIFETIME.ttl
    saved = stored(world)
    assert (saved.version, saved.pages, saved.questions, saved.state) == (
        book.version,
        book.pages,
        book.questions,
        book.state,
    )


async def test_a_page_write_stores_generating_then_the_page(world: World) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    task = in_flight(world)
    await reached(world.context_generator.script.started)
    held = stored(world)
    assert held.version == 2
    assert held.state is BookState.GENERATING
    assert held.state_at(world.clock.now()) is BookState.GENERATING
    assert held.generation is not None
    assert held.generation.page_number == 1
    assert held.generation.lease_deadline == T0 + LEASE
    gate.set()
    book = await task
    # claimed, then the page with the picture that was drawn while the text was written
    assert book.version == stored(world).version == 3


async def test_pages_are_numbered_1_to_n_and_the_last_one_makes_the_book_done(
    world: World,
) -> None:
    await world.started(page_count=4)
    for number in range(1, 5):
        book = await world.write(f"idea {number}")
        assert [p.number for p in book.pages] == list(range(1, number + 1))
        assert [p.input for p in book.pages] == [f"idea {n}" for n in range(1, number + 1)]
    assert book.state is BookState.DONE
    assert book.questions == Questions()
    assert stored(world).state is BookState.DONE
    assert stored(world).version == 1 + 3 * 4


async def test_the_question_generator_is_not_called_for_the_last_page(world: World) -> None:
    await world.started(page_count=3)
    assert world.question_generator.script.calls == 1  # the opening questions
    await world.write("one")
    await world.write("two")
    assert world.question_generator.script.calls == 3
    book = await world.write("three")
    assert world.question_generator.script.calls == 3
    assert book.state is BookState.DONE
    assert book.questions.items == ()


async def test_a_one_page_book_is_done_after_one_write_without_more_questions(
    world: World,
) -> None:
    await world.started(page_count=1)
    book = await world.write("the whole story")
    assert book.state is BookState.DONE
    assert len(book.pages) == 1
    assert world.question_generator.script.calls == 1


async def test_the_generators_get_the_story_so_far_and_the_childs_idea(world: World) -> None:
    await world.started(page_count=3)
    await world.write("first idea")
    await world.write("second idea")

    context, child_input = world.context_generator.requests[-1]
    assert child_input == "second idea"
    assert [p.input for p in context.pages] == ["first idea"]
    drawing = world.illustrator.requests[-1]
    assert drawing.kind is IllustrationKind.PAGE
    assert drawing.scene == "second idea"
    assert drawing.page_number == 2
    assert [p.input for p in drawing.context.pages] == ["first idea"]
    asked = world.question_generator.requests[-1]
    assert [p.input for p in asked.pages] == ["first idea", "second idea"]
    assert asked.pages[-1].text == "Page 2. second idea, and then it happened."


async def test_the_text_and_the_illustration_run_concurrently_and_questions_follow_the_text(
    world: World,
) -> None:
    await world.started(page_count=3)
    world.events.clear()
    text_gate = world.context_generator.script.hold()
    image_gate = world.illustrator.script.hold()
    asker = world.question_generator.script
    asker.started.clear()
    task = in_flight(world)

    await reached(world.context_generator.script.started)
    await reached(world.illustrator.script.started)
    assert "text:end" not in world.events  # the drawing began before the text was done
    for _ in range(20):
        await asyncio.sleep(0)
    assert "questions:start" not in world.events  # the questions wait for the text

    text_gate.set()
    await reached(asker.started)
    assert world.events.index("questions:start") > world.events.index("text:end")
    assert "image:end" not in world.events  # the questions do not wait for the drawing

    image_gate.set()
    book = await task
    assert len(book.pages) == 1


# -- refusals --------------------------------------------------------------------------------


async def test_writing_with_no_book_is_no_book_in_progress(world: World) -> None:
    with pytest.raises(NoBookInProgress):
        await world.write()
    assert world.context_generator.script.calls == 0
    assert world.illustrator.script.calls == 0


async def test_refuses_a_page_when_the_book_is_done(world: World) -> None:
    done = await world.done(page_count=2)
    calls = world.context_generator.script.calls
    with pytest.raises(BookComplete):
        await world.write("one more")
    assert world.context_generator.script.calls == calls
    assert stored(world).version == done.version
    assert len(stored(world).pages) == 2


async def test_a_second_write_while_the_first_is_generating_is_refused(world: World) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    first = in_flight(world, "first")
    await reached(world.context_generator.script.started)

    with pytest.raises(GenerationInProgress):
        await world.write("second")

    gate.set()
    book = await first
    assert [p.input for p in book.pages] == ["first"]
    assert world.context_generator.script.calls == 1


async def test_ten_concurrent_writes_on_a_fresh_book_give_exactly_one_page(
    world: World,
) -> None:
    await world.started(page_count=5)
    gate = world.context_generator.script.hold()
    tasks = [in_flight(world, f"tap {n}") for n in range(10)]

    await wait_until(lambda: sum(t.done() for t in tasks) == 9)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    books = [r for r in results if isinstance(r, Book)]
    errors = [r for r in results if not isinstance(r, Book)]
    assert len(books) == 1
    assert len(errors) == 9
    assert all(isinstance(e, InvalidBookState) for e in errors), errors
    assert world.context_generator.script.calls == 1
    saved = stored(world)
    assert [p.number for p in saved.pages] == [1]
    assert saved.pages[0].input == books[0].pages[0].input
    assert saved.version == 3  # claimed, then the page with its picture (drawn meanwhile)


async def test_concurrent_writes_never_lose_or_duplicate_a_page(world: World) -> None:
    await world.started(page_count=20)
    results = await asyncio.gather(
        *(world.write(f"tap {n}") for n in range(10)), return_exceptions=True
    )

    books = [r for r in results if isinstance(r, Book)]
    errors = [r for r in results if not isinstance(r, Book)]
    assert books
    assert all(isinstance(e, InvalidBookState) for e in errors), errors
    saved = stored(world)
    assert [p.number for p in saved.pages] == list(range(1, len(books) + 1))
    winners = {b.pages[-1].input for b in books}
    assert {p.input for p in saved.pages} == winners
    assert saved.state is BookState.IN_PROGRESS
    assert saved.version == 1 + 3 * len(books)


async def test_concurrent_writes_on_the_last_page_give_exactly_one_success(
    world: World,
) -> None:
    await world.started(page_count=1)
    results = await asyncio.gather(
        *(world.write(f"tap {n}") for n in range(10)), return_exceptions=True
    )
    books = [r for r in results if isinstance(r, Book)]
    errors = [r for r in results if not isinstance(r, Book)]
    assert len(books) == 1
    assert all(isinstance(e, GenerationInProgress | BookComplete) for e in errors), errors
    assert [p.number for p in stored(world).pages] == [1]
    assert stored(world).state is BookState.DONE


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["context_generator", "question_generator"])
async def test_a_generator_failure_leaves_the_book_in_progress_with_no_page(
    world: World, failing: str
) -> None:
    await world.started(page_count=3)
    await world.write("first")
    before = stored(world)
    getattr(world, failing).script.fail_next()

    with pytest.raises(GenerationFailed):
        await world.write("second")

    after = stored(world)
    assert after.state is BookState.IN_PROGRESS
    assert after.generation is None
    assert after.pages == before.pages
    assert after.questions == before.questions
    assert after.version == before.version + 2  # claimed, then released


@pytest.mark.parametrize("failing", ["context_generator", "question_generator"])
async def test_after_a_generator_failure_the_same_write_can_be_retried(
    world: World, failing: str
) -> None:
    await world.started(page_count=3)
    getattr(world, failing).script.fail_next()
    with pytest.raises(GenerationFailed):
        await world.write("idea")
    book = await world.write("idea")
    assert [(p.number, p.input) for p in book.pages] == [(1, "idea")]


async def test_a_failing_generator_cancels_the_one_still_running(world: World) -> None:
    await world.started()
    world.illustrator.script.hold()
    world.context_generator.script.fail_next()
    with pytest.raises(GenerationFailed):
        await world.write()
    assert world.illustrator.script.cancelled == 1
    assert stored(world).state is BookState.IN_PROGRESS


async def test_a_moderation_refusal_is_raised_and_releases_the_book(world: World) -> None:
    await world.started()
    world.context_generator.script.fail_next(ContentRejected("Let's think of a kinder idea!"))
    with pytest.raises(ContentRejected):
        await world.write()
    assert stored(world).state is BookState.IN_PROGRESS
    assert stored(world).pages == []


@pytest.mark.parametrize(
    ("texts", "answer"),
    [
        (["   "], None),
        (["x" * 5001], None),
        ([], []),
        ([], ["a", "b", "c", "d"]),
        ([], ["ok", " "]),
    ],
    ids=["blank text", "text too long", "no question", "four questions", "blank question"],
)
async def test_unusable_generator_output_is_a_generation_failure_that_releases_the_book(
    world: World, texts: list[str], answer: list[str] | None
) -> None:
    await world.started(page_count=3)
    world.context_generator.next_texts = texts
    if answer is not None:
        world.question_generator.answer = answer
    with pytest.raises(GenerationFailed):
        await world.write()
    saved = stored(world)
    assert saved.state is BookState.IN_PROGRESS
    assert saved.pages == []


async def test_a_failed_picture_keeps_the_page_text_and_can_be_drawn_again(world: World) -> None:
    await world.started()
    world.illustrator.script.fail_next()

    book = await world.write("idea")

    [page] = book.pages
    assert (page.input, page.image_status) == ("idea", ImageStatus.FAILED)
    assert stored(world).pages == book.pages
    redrawn = await world.redraw_picture().execute(ALICE, 1)
    assert redrawn.pages[0].image_status is ImageStatus.READY
    assert redrawn.pages[0].text == page.text


async def test_a_storage_failure_when_staging_the_image_fails_only_the_picture(
    world: World,
) -> None:
    await world.started()
    world.images.faults.once("put")

    book = await world.write()

    saved = stored(world)
    assert saved.state is BookState.IN_PROGRESS
    assert saved.generation is None
    assert [p.image_status for p in saved.pages] == [ImageStatus.FAILED]
    assert book.pages == saved.pages
    world.images.faults.once("put")
    with pytest.raises(ImageStorageUnavailable):  # drawn again with S3 still down: a 503
        await world.redraw_picture().execute(ALICE, 1)
    assert stored(world).pages[0].image_status is ImageStatus.FAILED


async def test_when_the_release_cannot_be_stored_the_lease_frees_the_book(world: World) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    task = in_flight(world, "lost")
    await reached(world.context_generator.script.started)
    world.context_generator.script.fail_next()
    world.books.faults.always("update")
    gate.set()

    with pytest.raises(GenerationFailed):  # the generator's error, not the store's
        await task

    world.books.faults.clear()
    world.context_generator.script.gate = None
    held = stored(world)
    assert held.state_at(world.clock.now()) is BookState.GENERATING
    with pytest.raises(GenerationInProgress):
        await world.write("too soon")
    world.clock.advance(LEASE)
    book = await world.write("after the lease")
    assert [(p.number, p.input) for p in book.pages] == [(1, "after the lease")]


async def test_a_store_failure_when_storing_the_page_is_store_unavailable(world: World) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    task = in_flight(world)
    await reached(world.context_generator.script.started)
    world.books.faults.once("update")
    gate.set()
    with pytest.raises(StoreUnavailable):
        await task
    assert stored(world).pages == []


async def test_a_store_that_cannot_be_read_is_store_unavailable(world: World) -> None:
    await world.started()
    world.books.faults.once("get")
    with pytest.raises(StoreUnavailable):
        await world.write()
    assert world.context_generator.script.calls == 0


# -- the lease and the book going away -------------------------------------------------------


async def test_a_page_that_outlives_its_lease_is_refused_and_not_stored(world: World) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    task = in_flight(world, "slow")
    await reached(world.context_generator.script.started)
    world.clock.advance(LEASE)
    gate.set()

    with pytest.raises(GenerationFailed, match="longer than its lease"):
        await task

    saved = stored(world)
    assert saved.pages == []
    assert saved.state_at(world.clock.now()) is BookState.IN_PROGRESS
    book = await world.write("again")
    assert [(p.number, p.input) for p in book.pages] == [(1, "again")]


async def test_a_new_write_takes_over_a_passed_lease_and_the_late_writer_loses(
    world: World,
) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    late = in_flight(world, "late")
    await reached(world.context_generator.script.started)
    world.clock.advance(LEASE + timedelta(seconds=1))

    fresh = in_flight(world, "fresh")
    await wait_until(lambda: world.context_generator.script.calls == 2)
    holder = stored(world).generation
    assert holder is not None
    assert holder.input == "fresh"
    gate.set()

    with pytest.raises(GenerationFailed, match="longer than its lease"):
        await late
    book = await fresh
    assert [(p.number, p.input) for p in book.pages] == [(1, "fresh")]
    assert [(p.number, p.input) for p in stored(world).pages] == [(1, "fresh")]


async def test_discarding_the_book_while_a_page_is_generating_ends_the_write(
    world: World,
) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    task = in_flight(world)
    await reached(world.context_generator.script.started)

    await world.discard_book().execute(ALICE)
    gate.set()

    with pytest.raises(NoBookInProgress):
        await task
    assert world.books.peek(ALICE) is None


async def test_discarding_while_generating_and_failing_stores_nothing(world: World) -> None:
    await world.started()
    gate = world.context_generator.script.hold()
    task = in_flight(world)
    await reached(world.context_generator.script.started)
    await world.discard_book().execute(ALICE)
    world.context_generator.script.fail_next()
    gate.set()
    with pytest.raises(GenerationFailed):
        await task
    assert world.books.peek(ALICE) is None


async def test_a_late_write_never_overwrites_a_new_book_at_the_same_version(
    world: World,
) -> None:
    """Discard, start again and begin page 1: the new book has the version the old write expects.

    The compare-and-set must also compare the book's identity, or the old page lands in it.
    """
    await world.started()
    gate = world.context_generator.script.hold()
    task = in_flight(world, "old book")
    await reached(world.context_generator.script.started)
    claimed = stored(world).version

    await world.discard_book().execute(ALICE)
    replacement = opened_book(3, book_id=UUID(int=0xFEED), now=world.clock.now())
    replacement.begin_generation("other", ChildInput("new book"), world.clock.now(), LEASE)
    assert replacement.version == claimed
    world.books.put_directly(replacement)
    gate.set()

    with pytest.raises((NoBookInProgress, StaleGeneration)):
        await task
    saved = stored(world)
    assert saved.id == UUID(int=0xFEED)
    assert saved.pages == []
    assert saved.version == claimed


async def test_writes_of_different_users_do_not_interfere(world: World) -> None:
    await world.started()
    await world.started(user=BOB)
    gate = world.context_generator.script.hold()
    alice = in_flight(world, "alice's idea")
    bob = asyncio.create_task(world.write("bob's idea", user=BOB))
    await wait_until(lambda: world.context_generator.script.calls == 2)
    gate.set()
    a, b = await asyncio.gather(alice, bob)
    assert [p.input for p in a.pages] == ["alice's idea"]
    assert [p.input for p in b.pages] == ["bob's idea"]
