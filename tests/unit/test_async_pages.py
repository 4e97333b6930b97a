"""Pages written in the background (text first, then the picture), failed pictures drawn again,
the limits each way of writing counts, and the recovery of what dead attempts still hold."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from app.application.errors import (
    ContentRejected,
    GenerationFailed,
    NoBookInProgress,
    RateLimited,
)
from app.application.pictures import PICTURE_COST
from app.application.ports import GenerationCost
from app.application.use_cases.write_page import PAGE_COST
from app.domain.book import Book, BookState
from app.domain.errors import (
    GenerationInProgress,
    IllustrationNotNeeded,
    IllustrationsNotReady,
    PageNotFound,
)
from app.domain.events import BookEvent
from app.domain.values import ChildInput, ImageStatus, Title, UserId
from tests.unit.fakes import ALICE, BOB, World, reached, wait_until

TITLE = Title("Momo and the Map")
SECOND = timedelta(seconds=1)


# -- helpers ---------------------------------------------------------------------------------


def stored(world: World, user: UserId = ALICE) -> Book:
    book = world.books.peek(user)
    assert book is not None
    return book


def pages_stored(world: World, user: UserId = ALICE) -> int:
    book = world.books.peek(user)
    return 0 if book is None else len(book.pages)


def events(world: World, name: str) -> list[BookEvent]:
    return [e for e in world.books.events if e.name.value == name]


async def opened(world: World, page_count: int = 3, user: UserId = ALICE) -> Book:
    """A book started and opened, with what starting it counted and announced forgotten."""
    book = await world.started(page_count, user)
    forget(world)
    return book


def forget(world: World) -> None:
    world.limits.taken.clear()
    world.limits.given_back.clear()
    world.books.events.clear()
    world.events.clear()


async def start_page(world: World, text: str = "Momo finds a map", user: UserId = ALICE) -> Book:
    return await world.write_page().execute(user, ChildInput(text), wait=False)


async def with_failed_picture(world: World, page_count: int = 3) -> Book:
    """A book whose page 1 is written and whose picture failed."""
    await opened(world, page_count)
    world.illustrator.script.fail_next()
    await start_page(world, "idea 1")
    await world.jobs.wait()
    book = stored(world)
    assert book.pages[0].image_status is ImageStatus.FAILED
    forget(world)
    return book


def snapshot(book: Book) -> tuple[object, ...]:
    return (book.state, book.version, list(book.pages), book.questions, book.generation)


# -- WritePage.start: the claimed book comes back at once ------------------------------------


async def test_start_returns_the_claimed_book_generating_at_once(world: World) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()

    claimed = await start_page(world)

    assert claimed.state is BookState.GENERATING
    assert claimed.generation is not None
    assert claimed.generation.page_number == 1
    assert claimed.generation.input == "Momo finds a map"
    assert claimed.pages == []
    assert claimed.pending_events == ()
    assert claimed.version == stored(world).version
    assert world.jobs.count == 1

    await reached(world.context_generator.script.started)
    gate.set()
    await world.jobs.wait()

    assert claimed.state is BookState.GENERATING  # the job changed its own copy, not this one
    assert claimed.pages == []
    assert claimed.generation is not None
    assert len(stored(world).pages) == 1


async def test_start_stores_the_text_first_and_then_the_picture(world: World) -> None:
    await opened(world)
    world.question_generator.answer = ["Where does the map lead?"]
    gate = world.illustrator.script.hold()

    claimed = await start_page(world)
    await wait_until(lambda: pages_stored(world) == 1)

    text_only = stored(world)
    [page] = text_only.pages
    assert page.text == "Page 1. Momo finds a map, and then it happened."
    assert page.image_key is None
    assert page.image_status is ImageStatus.PENDING
    assert text_only.state is BookState.IN_PROGRESS
    assert text_only.generation is None
    assert text_only.questions.items == ("Where does the map lead?",)
    assert text_only.version == claimed.version + 1
    assert world.books.event_names() == ["page_text", "questions"]
    assert world.limits.net() == (1, 1)  # taken when the page was asked for

    gate.set()
    await world.jobs.wait()

    drawn = stored(world)
    [page] = drawn.pages
    assert page.image_status is ImageStatus.READY
    assert page.image_key in world.images.staged()
    assert page.text == text_only.pages[0].text
    assert drawn.questions == text_only.questions
    assert drawn.version == text_only.version + 1
    assert world.books.event_names() == ["page_text", "questions", "image_ready", "page_done"]
    [ready] = events(world, "image_ready")
    assert ready.data == {"page": 1, "image_key": page.image_key}
    assert ready.book_id == claimed.id
    assert world.limits.taken == [PAGE_COST]
    assert world.limits.net() == (1, 1)
    assert world.limits.given_back == []
    assert world.jobs.count == 0


async def test_start_announces_the_text_and_questions_with_what_the_child_sees(
    world: World,
) -> None:
    await opened(world)
    world.question_generator.answer = ["Who comes to help?"]
    await start_page(world, "  Momo finds a map  ")
    await world.jobs.wait()

    [text] = events(world, "page_text")
    assert text.data == {
        "page": 1,
        "input": "Momo finds a map",
        "text": "Page 1. Momo finds a map, and then it happened.",
    }
    [questions] = events(world, "questions")
    assert questions.data == {"page": 1, "questions": ["Who comes to help?"]}
    assert text.version < events(world, "image_ready")[0].version


async def test_a_picture_drawn_before_the_text_is_stored_with_it_and_announced_after_it(
    world: World,
) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()
    claimed = await start_page(world)
    await wait_until(lambda: len(world.images.staged()) == 2)  # the cover and the picture
    assert "image:end" in world.events
    assert world.books.event_names() == []

    gate.set()
    await world.jobs.wait()

    assert world.books.event_names() == ["page_text", "questions", "image_ready", "page_done"]
    book = stored(world)
    assert book.pages[0].image_status is ImageStatus.READY
    assert book.version == claimed.version + 1  # one change: the page and its picture
    assert book.usage.images == 2  # the cover's and the page's


async def test_the_last_page_written_in_the_background_announces_book_done_after_its_picture(
    world: World,
) -> None:
    await opened(world, page_count=1)
    gate = world.illustrator.script.hold()
    await start_page(world)
    await wait_until(lambda: pages_stored(world) == 1)
    assert stored(world).state is BookState.DONE
    assert world.books.event_names() == ["page_text"]
    with pytest.raises(IllustrationsNotReady):
        await world.finish_book().execute(ALICE, TITLE)

    gate.set()
    await world.jobs.wait()

    assert world.books.event_names() == ["page_text", "image_ready", "page_done", "book_done"]
    finished = await world.finish_book().execute(ALICE, TITLE)
    assert len(finished.pages) == 1


async def test_a_whole_book_written_in_the_background_announces_book_done_once(
    world: World,
) -> None:
    await opened(world, page_count=3)
    for number in range(1, 4):
        await start_page(world, f"idea {number}")
        await world.jobs.wait()
    book = stored(world)
    assert book.state is BookState.DONE
    assert [p.image_status for p in book.pages] == [ImageStatus.READY] * 3
    assert world.books.event_names().count("book_done") == 1
    assert world.books.event_names()[-1] == "book_done"
    assert world.limits.net() == (3, 3)


# -- WritePage.start: failures -----------------------------------------------------------------


@pytest.mark.parametrize("failing", ["context_generator", "question_generator"])
async def test_a_text_failure_in_the_background_gives_the_book_back(
    world: World, failing: str
) -> None:
    claimed = await opened(world)
    picture_gate = world.illustrator.script.hold()
    getattr(world, failing).script.fail_next()

    await start_page(world)
    await world.jobs.wait()

    book = stored(world)
    assert book.state is BookState.IN_PROGRESS
    assert book.generation is None
    assert book.pages == []
    assert book.questions == claimed.questions
    assert world.books.event_names() == ["generation_failed"]
    [failed] = events(world, "generation_failed")
    assert failed.data == {
        "page": 1,
        "stage": "text",
        "detail": "the page could not be written; it can be written again",
    }
    assert world.limits.net() == (0, 0)  # nothing was written or drawn
    assert world.illustrator.script.cancelled == 1  # the picture is not drawn for nothing

    picture_gate.set()
    await start_page(world, "again")
    await world.jobs.wait()
    assert [p.input for p in stored(world).pages] == ["again"]


async def test_unusable_text_in_the_background_gives_the_book_back(world: World) -> None:
    await opened(world)
    world.context_generator.next_texts = ["   "]
    await start_page(world)
    await world.jobs.wait()
    assert stored(world).state is BookState.IN_PROGRESS
    assert stored(world).pages == []
    assert world.books.event_names() == ["generation_failed"]
    assert world.limits.net() == (0, 0)


async def test_a_picture_failure_leaves_the_page_with_its_text_and_a_failed_picture(
    world: World,
) -> None:
    await opened(world)
    world.illustrator.script.fail_next()

    await start_page(world)
    await world.jobs.wait()

    book = stored(world)
    [page] = book.pages
    assert page.text == "Page 1. Momo finds a map, and then it happened."
    assert page.image_status is ImageStatus.FAILED
    assert page.image_attempt is None
    assert book.state is BookState.IN_PROGRESS
    assert world.books.event_names() == ["page_text", "questions", "generation_failed"]
    [failed] = events(world, "generation_failed")
    assert failed.data["page"] == 1
    assert failed.data["stage"] == "illustration"
    assert world.limits.net() == (1, 0)  # the picture that failed is given back


async def test_a_picture_that_cannot_be_staged_fails_the_picture_only(world: World) -> None:
    await opened(world)
    world.images.faults.once("put")
    await start_page(world)
    await world.jobs.wait()
    [page] = stored(world).pages
    assert page.image_status is ImageStatus.FAILED
    assert events(world, "generation_failed")[0].data["stage"] == "illustration"
    assert world.limits.net() == (1, 0)


async def test_the_next_page_can_be_written_after_a_picture_failed(world: World) -> None:
    await with_failed_picture(world)
    await start_page(world, "idea 2")
    await world.jobs.wait()
    book = stored(world)
    assert [p.image_status for p in book.pages] == [ImageStatus.FAILED, ImageStatus.READY]


async def test_cancelling_the_job_while_the_text_is_written_gives_the_book_back(
    world: World,
) -> None:
    await opened(world)
    world.context_generator.script.hold()
    world.illustrator.script.hold()
    await start_page(world)
    await reached(world.context_generator.script.started)

    await world.jobs.close()
    await wait_until(lambda: stored(world).state is BookState.IN_PROGRESS)

    book = stored(world)
    assert book.generation is None
    assert book.pages == []
    [failed] = events(world, "generation_failed")
    assert failed.data == {
        "page": 1,
        "stage": "text",
        "detail": "the server stopped while writing the page; it can be written again",
    }
    assert world.illustrator.script.cancelled == 1
    assert world.limits.net() == (0, 0)
    assert world.jobs.count == 0


async def test_cancelling_the_job_while_the_picture_is_drawn_keeps_the_text(world: World) -> None:
    await opened(world)
    world.illustrator.script.hold()
    await start_page(world)
    await wait_until(lambda: pages_stored(world) == 1)

    await world.jobs.close()
    await wait_until(lambda: stored(world).pages[0].image_attempt is None)

    book = stored(world)
    [page] = book.pages
    assert page.image_status is ImageStatus.FAILED
    assert page.text == "Page 1. Momo finds a map, and then it happened."
    assert book.state is BookState.IN_PROGRESS
    assert world.books.event_names() == ["page_text", "questions", "generation_failed"]
    assert events(world, "generation_failed")[0].data["stage"] == "illustration"
    assert world.illustrator.script.cancelled == 1
    assert world.limits.net() == (1, 0)


async def test_a_text_that_outlives_its_lease_is_not_stored(world: World) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()
    world.illustrator.script.hold()
    await start_page(world)
    await reached(world.context_generator.script.started)
    world.clock.advance(world.lease)

    gate.set()
    await world.jobs.wait()

    book = stored(world)
    assert book.pages == []
    assert book.state_at(world.clock.now()) is BookState.IN_PROGRESS
    assert world.books.event_names() == []
    assert world.limits.net() == (1, 0)  # the text was written (paid for), then thrown away
    assert world.illustrator.script.cancelled == 1


async def test_discarding_the_book_while_the_text_is_written_ends_the_job_quietly(
    world: World,
) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()
    world.illustrator.script.hold()
    await start_page(world)
    await reached(world.context_generator.script.started)

    await world.discard_book().execute(ALICE)
    gate.set()
    await world.jobs.wait()

    assert world.books.peek(ALICE) is None
    assert world.books.events == []
    assert world.limits.net() == (1, 0)  # the text was written, the picture never drawn
    assert world.illustrator.script.cancelled == 1


async def test_discarding_the_book_while_the_picture_is_drawn_stores_nothing(
    world: World,
) -> None:
    await opened(world)
    gate = world.illustrator.script.hold()
    await start_page(world)
    await wait_until(lambda: pages_stored(world) == 1)

    await world.discard_book().execute(ALICE)
    gate.set()
    await world.jobs.wait()

    assert world.books.peek(ALICE) is None
    assert world.books.event_names() == ["page_text", "questions"]
    assert world.limits.net() == (1, 1)  # both were made, for a book that was discarded


async def test_a_store_failure_when_storing_the_text_stops_the_drawing(world: World) -> None:
    await opened(world)
    text_gate = world.context_generator.script.hold()
    picture_gate = world.illustrator.script.hold()
    await start_page(world)
    await reached(world.context_generator.script.started)
    world.books.faults.once("update")  # the store of the text

    text_gate.set()
    await world.jobs.wait()
    book = stored(world)
    assert book.pages == []
    assert book.state is BookState.IN_PROGRESS  # given back at once: it can be written again
    assert world.limits.net() == (1, 0)

    picture_gate.set()  # a drawing left running would now finish and stage its picture
    for _ in range(20):
        await asyncio.sleep(0)
    assert world.illustrator.script.cancelled == 1
    assert len(world.images.staged()) == 1  # the cover only


# -- WritePage.start: refusals come before the claim -----------------------------------------


async def test_start_checks_the_limits_before_claiming(world: World) -> None:
    await opened(world)
    before = snapshot(stored(world))
    drawn = world.illustrator.script.calls  # the cover
    world.limits.refuse_for = 30

    with pytest.raises(RateLimited) as caught:
        await start_page(world)

    assert caught.value.retry_after_seconds == 30
    assert snapshot(stored(world)) == before
    assert world.jobs.count == 0
    assert world.context_generator.script.calls == 0
    assert world.illustrator.script.calls == drawn
    assert world.limits.asked[-1] == PAGE_COST  # asked for, and refused
    assert world.limits.taken == []  # refused: nothing is counted
    assert world.books.events == []


async def test_start_refuses_an_idea_the_moderator_rejects(world: World) -> None:
    await opened(world)
    before = snapshot(stored(world))
    with pytest.raises(ContentRejected):
        await start_page(world, "a scary monster")
    assert snapshot(stored(world)) == before
    assert world.jobs.count == 0


async def test_start_with_no_book_is_no_book_in_progress(world: World) -> None:
    with pytest.raises(NoBookInProgress):
        await start_page(world)
    assert world.jobs.count == 0


async def test_start_is_refused_while_a_page_is_being_written(world: World) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()
    await start_page(world, "first")
    with pytest.raises(GenerationInProgress):
        await start_page(world, "second")
    gate.set()
    await world.jobs.wait()
    assert [p.input for p in stored(world).pages] == ["first"]


# -- WritePage.execute: all at once ----------------------------------------------------------


async def test_execute_checks_the_limits_before_generating(world: World) -> None:
    await opened(world)
    before = snapshot(stored(world))
    world.limits.refuse_for = 12

    with pytest.raises(RateLimited):
        await world.write()

    assert world.context_generator.script.calls == 0
    assert world.question_generator.script.calls == 1  # the opening questions only
    assert world.illustrator.script.calls == 1  # the cover only
    assert snapshot(stored(world)) == before
    assert world.books.events == []
    assert world.limits.asked[-1] == PAGE_COST  # asked for, and refused
    assert world.limits.taken == []  # refused: nothing is counted


async def test_execute_takes_the_pages_cost_when_it_is_asked_for(world: World) -> None:
    await opened(world)
    book = await world.write()
    assert world.limits.taken == [PAGE_COST]
    assert world.limits.net() == (1, 1)
    assert GenerationCost(pages=1, images=1) == PAGE_COST
    assert book.pages[0].image_status is ImageStatus.READY
    assert world.books.event_names() == ["page_text", "questions", "image_ready", "page_done"]


async def test_execute_holds_the_pages_cost_while_the_page_is_written(world: World) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()
    task = asyncio.create_task(world.write())
    await reached(world.context_generator.script.started)
    assert world.limits.taken == [PAGE_COST]
    assert world.limits.given_back == []
    gate.set()
    await task
    assert world.limits.net() == (1, 1)


@pytest.mark.parametrize("failing", ["context_generator", "question_generator"])
async def test_execute_counts_nothing_when_the_page_fails(world: World, failing: str) -> None:
    await opened(world)
    getattr(world, failing).script.fail_next()
    with pytest.raises(GenerationFailed):
        await world.write()
    assert world.limits.net() == (0, 0)
    assert world.books.event_names() == ["generation_failed"]
    assert stored(world).pages == []


async def test_execute_announces_book_done_with_the_last_page(world: World) -> None:
    await opened(world, page_count=2)
    await world.write("one")
    await world.write("two")
    assert world.books.event_names() == [
        "page_text",
        "questions",
        "image_ready",
        "page_done",
        "page_text",
        "image_ready",
        "page_done",
        "book_done",
    ]
    assert world.limits.net() == (2, 2)


# -- RedrawPicture ---------------------------------------------------------------------------


async def test_redraw_draws_a_failed_picture_again_and_keeps_the_text(world: World) -> None:
    before = await with_failed_picture(world)

    book = await world.redraw_picture().execute(ALICE, 1)

    [page] = book.pages
    assert page.image_status is ImageStatus.READY
    assert page.image_key in world.images.staged()
    assert (page.number, page.input, page.text) == (
        before.pages[0].number,
        before.pages[0].input,
        before.pages[0].text,
    )
    assert book.questions == before.questions
    assert book.state is BookState.IN_PROGRESS
    assert book.version == before.version + 2  # claimed, then drawn
    assert snapshot(stored(world)) == snapshot(book)
    assert world.limits.taken == [PICTURE_COST]
    assert world.limits.net() == (0, 1)
    assert GenerationCost(images=1) == PICTURE_COST
    assert world.books.event_names() == ["image_ready", "page_done"]
    assert events(world, "image_ready")[0].data == {"page": 1, "image_key": page.image_key}
    assert world.context_generator.script.calls == 1  # the text is not written again
    request = world.illustrator.requests[-1]
    assert request.page_number == 1
    assert request.scene == "idea 1"


async def test_redraw_that_fails_again_raises_and_leaves_the_picture_failed(world: World) -> None:
    before = await with_failed_picture(world)
    world.illustrator.script.fail_next()

    with pytest.raises(GenerationFailed):
        await world.redraw_picture().execute(ALICE, 1)

    book = stored(world)
    [page] = book.pages
    assert page.image_status is ImageStatus.FAILED
    assert page.text == before.pages[0].text
    assert book.version == before.version + 2
    assert world.books.event_names() == ["generation_failed"]
    assert events(world, "generation_failed")[0].data["stage"] == "illustration"
    assert world.limits.net() == (0, 0)

    book = await world.redraw_picture().execute(ALICE, 1)
    assert book.pages[0].image_status is ImageStatus.READY


async def test_redraw_refuses_a_picture_that_is_ready(world: World) -> None:
    await opened(world)
    await world.write()
    forget(world)
    before = snapshot(stored(world))
    calls = world.illustrator.script.calls

    with pytest.raises(IllustrationNotNeeded):
        await world.redraw_picture().execute(ALICE, 1)

    assert snapshot(stored(world)) == before
    assert world.illustrator.script.calls == calls
    assert world.limits.taken == []
    assert world.limits.given_back == []


async def test_redraw_refuses_a_picture_that_is_being_drawn(world: World) -> None:
    await opened(world)
    gate = world.illustrator.script.hold()
    await start_page(world)
    await wait_until(lambda: pages_stored(world) == 1)
    before = snapshot(stored(world))

    with pytest.raises(IllustrationNotNeeded):
        await world.redraw_picture().execute(ALICE, 1)
    with pytest.raises(IllustrationNotNeeded):
        await world.redraw_picture().execute(ALICE, 1, wait=False)

    assert snapshot(stored(world)) == before
    gate.set()
    await world.jobs.wait()


async def test_redraw_of_a_page_the_book_does_not_have_is_page_not_found(world: World) -> None:
    await with_failed_picture(world)
    with pytest.raises(PageNotFound):
        await world.redraw_picture().execute(ALICE, 2)


async def test_redraw_with_no_book_is_no_book_in_progress(world: World) -> None:
    with pytest.raises(NoBookInProgress):
        await world.redraw_picture().execute(ALICE, 1)


async def test_redraw_checks_the_limits_before_drawing(world: World) -> None:
    before = await with_failed_picture(world)
    calls = world.illustrator.script.calls
    world.limits.refuse_for = 60

    with pytest.raises(RateLimited):
        await world.redraw_picture().execute(ALICE, 1)

    assert world.illustrator.script.calls == calls
    assert snapshot(stored(world)) == snapshot(before)
    assert world.limits.net() == (0, 0)


async def test_redraw_start_returns_the_picture_pending_then_draws_it(world: World) -> None:
    before = await with_failed_picture(world)
    gate = world.illustrator.script.hold()

    claimed = await world.redraw_picture().execute(ALICE, 1, wait=False)

    assert claimed.pages[0].image_status is ImageStatus.PENDING
    assert claimed.pages[0].text == before.pages[0].text
    assert claimed.version == before.version + 1
    assert stored(world).pages[0].image_status is ImageStatus.PENDING
    assert world.jobs.count == 1

    gate.set()
    await world.jobs.wait()

    assert stored(world).pages[0].image_status is ImageStatus.READY
    assert claimed.pages[0].image_status is ImageStatus.PENDING  # not changed by the job
    assert world.books.event_names() == ["image_ready", "page_done"]
    assert world.limits.net() == (0, 1)


async def test_redraw_start_whose_picture_fails_again_announces_it(world: World) -> None:
    await with_failed_picture(world)
    world.illustrator.script.fail_next()
    await world.redraw_picture().execute(ALICE, 1, wait=False)
    await world.jobs.wait()
    assert stored(world).pages[0].image_status is ImageStatus.FAILED
    assert world.books.event_names() == ["generation_failed"]
    assert world.limits.net() == (0, 0)


async def test_cancelling_a_redraw_job_leaves_the_picture_failed(world: World) -> None:
    await with_failed_picture(world)
    world.illustrator.script.hold()
    await world.redraw_picture().execute(ALICE, 1, wait=False)
    await reached(world.illustrator.script.started)

    await world.jobs.close()
    await wait_until(lambda: stored(world).pages[0].image_attempt is None)

    assert stored(world).pages[0].image_status is ImageStatus.FAILED
    assert world.books.event_names() == ["generation_failed"]
    assert world.illustrator.script.cancelled == 1
    assert world.limits.net() == (0, 0)


async def test_redrawing_the_last_missing_picture_lets_the_book_be_finished(world: World) -> None:
    await with_failed_picture(world, page_count=1)
    assert stored(world).state is BookState.DONE
    with pytest.raises(IllustrationsNotReady):
        await world.finish_book().execute(ALICE, TITLE)

    await world.redraw_picture().execute(ALICE, 1)

    assert world.books.event_names() == ["image_ready", "page_done", "book_done"]
    finished = await world.finish_book().execute(ALICE, TITLE)
    assert len(finished.pages) == 1


async def test_a_picture_whose_lease_passed_can_be_drawn_again(world: World) -> None:
    await opened(world)
    world.illustrator.script.hold()
    await start_page(world)
    await wait_until(lambda: pages_stored(world) == 1)
    world.clock.advance(world.lease)
    world.illustrator.script.gate = None  # the new drawing is not held

    book = await world.redraw_picture().execute(ALICE, 1)

    assert book.pages[0].image_status is ImageStatus.READY


# -- RecoverStuckGenerations -----------------------------------------------------------------


async def test_recovery_gives_back_a_book_whose_generation_lease_passed(world: World) -> None:
    await opened(world)
    world.context_generator.script.hold()
    claimed = await start_page(world)
    await reached(world.context_generator.script.started)
    world.clock.advance(world.lease + SECOND)

    assert await world.recover().run_once() == 1

    book = stored(world)
    assert book.state is BookState.IN_PROGRESS
    assert book.generation is None
    assert book.pages == []
    assert book.version == claimed.version + 1
    [failed] = events(world, "generation_failed")
    assert failed.data["page"] == 1
    assert failed.data["stage"] == "text"
    assert failed.book_id == claimed.id
    await world.jobs.close()


async def test_a_late_page_of_a_recovered_attempt_is_refused(world: World) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()
    await start_page(world, "dead attempt")
    await reached(world.context_generator.script.started)
    world.clock.advance(world.lease + SECOND)
    assert await world.recover().run_once() == 1
    recovered = stored(world)

    gate.set()
    await world.jobs.wait()

    book = stored(world)
    assert book.pages == []
    assert snapshot(book) == snapshot(recovered)
    assert world.books.event_names() == ["generation_failed"]
    assert world.limits.net() == (1, 1)  # written and drawn (paid for), then thrown away

    await start_page(world, "alive")
    await world.jobs.wait()
    assert [p.input for p in stored(world).pages] == ["alive"]


async def test_a_late_page_of_a_recovered_attempt_does_not_overwrite_the_next_one(
    world: World,
) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()
    await start_page(world, "dead attempt")
    await reached(world.context_generator.script.started)
    world.clock.advance(world.lease + SECOND)
    assert await world.recover().run_once() == 1
    await start_page(world, "alive")  # held at the same gate
    await wait_until(lambda: world.context_generator.script.calls == 2)

    gate.set()
    await world.jobs.wait()

    assert [p.input for p in stored(world).pages] == ["alive"]


async def test_recovery_fails_a_picture_whose_lease_passed(world: World) -> None:
    await opened(world)
    gate = world.illustrator.script.hold()
    await start_page(world)
    await wait_until(lambda: pages_stored(world) == 1)
    text_only = stored(world)
    world.clock.advance(world.lease + SECOND)

    assert await world.recover().run_once() == 1

    book = stored(world)
    [page] = book.pages
    assert page.image_status is ImageStatus.FAILED
    assert page.image_attempt is None
    assert page.text == text_only.pages[0].text
    assert book.version == text_only.version + 1
    assert world.books.event_names() == ["page_text", "questions", "generation_failed"]
    assert events(world, "generation_failed")[0].data["stage"] == "illustration"

    gate.set()  # the dead attempt's picture comes too late
    await world.jobs.wait()
    assert stored(world).pages[0].image_status is ImageStatus.FAILED
    assert stored(world).version == book.version
    assert world.limits.net() == (1, 1)  # the late picture was paid for

    book = await world.redraw_picture().execute(ALICE, 1)
    assert book.pages[0].image_status is ImageStatus.READY


async def test_recovery_leaves_a_book_whose_lease_has_not_passed_alone(world: World) -> None:
    await opened(world)
    gate = world.context_generator.script.hold()
    await start_page(world)
    await reached(world.context_generator.script.started)
    before = snapshot(stored(world))
    world.clock.advance(world.lease - SECOND)

    assert await world.recover().run_once() == 0

    assert snapshot(stored(world)) == before
    assert world.books.events == []
    gate.set()
    await world.jobs.wait()
    assert len(stored(world).pages) == 1


async def test_recovery_leaves_a_picture_whose_lease_has_not_passed_alone(world: World) -> None:
    await opened(world)
    gate = world.illustrator.script.hold()
    await start_page(world)
    await wait_until(lambda: pages_stored(world) == 1)
    before = snapshot(stored(world))
    world.clock.advance(world.lease - SECOND)

    assert await world.recover().run_once() == 0

    assert snapshot(stored(world)) == before
    gate.set()
    await world.jobs.wait()
    assert stored(world).pages[0].image_status is ImageStatus.READY


async def test_recovery_with_nothing_held_changes_nothing(world: World) -> None:
    assert await world.recover().run_once() == 0
    await opened(world)
    await world.write()
    before = snapshot(stored(world))
    world.clock.advance(days=1)
    assert await world.recover().run_once() == 0
    assert snapshot(stored(world)) == before


async def test_recovery_counts_every_book_it_gave_back(world: World) -> None:
    await opened(world, user=ALICE)
    await opened(world, user=BOB)
    world.context_generator.script.hold()
    await start_page(world, user=ALICE)
    await start_page(world, user=BOB)
    await wait_until(lambda: world.context_generator.script.calls == 2)
    world.clock.advance(world.lease)

    assert await world.recover().run_once() == 2
    assert await world.recover().run_once() == 0

    assert stored(world, ALICE).state is BookState.IN_PROGRESS
    assert stored(world, BOB).state is BookState.IN_PROGRESS
    assert {e.book_id for e in events(world, "generation_failed")} == {
        stored(world, ALICE).id,
        stored(world, BOB).id,
    }
    await world.jobs.close()


async def test_recovery_counts_a_book_once_when_it_gives_back_several_things(
    world: World,
) -> None:
    await opened(world, page_count=3)
    world.illustrator.script.hold()
    await start_page(world, "one")
    await wait_until(lambda: pages_stored(world) == 1)
    world.context_generator.script.hold()
    await start_page(world, "two")
    await reached(world.context_generator.script.started)
    world.clock.advance(world.lease + SECOND)

    assert await world.recover().run_once() == 1

    book = stored(world)
    assert book.state is BookState.IN_PROGRESS
    assert [p.image_status for p in book.pages] == [ImageStatus.FAILED]
    assert sorted(e.data["stage"] for e in events(world, "generation_failed")) == [
        "illustration",
        "text",
    ]
    await world.jobs.close()


# -- the next page while the previous picture is still being drawn ---------------------------
#
# Text first lets the child write page 2 while page 1's picture is still being drawn, and that
# picture (or its failure, its recovery, a redraw) is stored on the book meanwhile. Page 2's text
# must still be stored: the attempt that holds the generation is the fence, not the version the
# claim read.


async def _picture_drawn(world: World) -> None:
    assert world.illustrator.script.gate is not None
    world.illustrator.script.gate.set()
    await wait_until(lambda: stored(world).pages[0].image_status is ImageStatus.READY)


async def _picture_given_up(world: World) -> None:
    world.clock.advance(seconds=31)  # page 1's picture lease passed, page 2's lease lives
    assert await world.recover().run_once() == 1
    assert stored(world).pages[0].image_status is ImageStatus.FAILED
    assert stored(world).state is BookState.GENERATING
    assert world.illustrator.script.gate is not None
    world.illustrator.script.gate.set()


async def _picture_drawn_again(world: World) -> None:
    assert world.illustrator.script.gate is not None
    world.illustrator.script.gate.set()
    await wait_until(lambda: stored(world).pages[0].image_attempt is None)
    await world.redraw_picture().execute(ALICE, 1)


PICTURE_CHANGES = pytest.mark.parametrize(
    ("change", "fail_first"),
    [(_picture_drawn, False), (_picture_given_up, False), (_picture_drawn_again, True)],
    ids=["picture drawn", "picture given up by recovery", "failed picture drawn again"],
)


async def _page_1_text_first(world: World, *, fail_first: bool) -> None:
    await opened(world, page_count=3)
    world.illustrator.script.hold()
    if fail_first:
        world.illustrator.script.fail_next()
    await start_page(world, "one")
    await wait_until(lambda: pages_stored(world) == 1)
    world.clock.advance(seconds=30)


@PICTURE_CHANGES
async def test_the_next_page_written_in_the_background_survives_a_change_to_the_last_picture(
    world: World, change: Callable[[World], Awaitable[None]], fail_first: bool
) -> None:
    await _page_1_text_first(world, fail_first=fail_first)
    text_gate = world.context_generator.script.hold()
    world.context_generator.script.started.clear()
    await start_page(world, "two")
    await reached(world.context_generator.script.started)

    await change(world)
    text_gate.set()
    await world.jobs.wait()

    book = stored(world)
    assert [p.input for p in book.pages] == ["one", "two"]
    assert book.state_at(world.clock.now()) is BookState.IN_PROGRESS
    assert book.generation is None
    assert [e.data["page"] for e in events(world, "page_text")] == [1, 2]


@PICTURE_CHANGES
async def test_the_next_page_written_at_once_survives_a_change_to_the_last_picture(
    world: World, change: Callable[[World], Awaitable[None]], fail_first: bool
) -> None:
    await _page_1_text_first(world, fail_first=fail_first)
    text_gate = world.context_generator.script.hold()
    world.context_generator.script.started.clear()
    task = asyncio.create_task(world.write("two"))
    await reached(world.context_generator.script.started)

    await change(world)
    text_gate.set()
    book = await task

    assert [p.input for p in book.pages] == ["one", "two"]
    assert [p.input for p in stored(world).pages] == ["one", "two"]
    assert stored(world).generation is None


async def test_both_pictures_are_stored_when_they_finish_together(world: World) -> None:
    await opened(world, page_count=3)
    gate = world.illustrator.script.hold()
    await start_page(world, "one")
    await wait_until(lambda: pages_stored(world) == 1)
    await start_page(world, "two")
    await wait_until(lambda: pages_stored(world) == 2)

    gate.set()
    await world.jobs.wait()

    book = stored(world)
    assert [p.image_status for p in book.pages] == [ImageStatus.READY, ImageStatus.READY]
    assert sorted(e.data["page"] for e in events(world, "image_ready")) == [1, 2]
    assert world.limits.net() == (2, 2)
