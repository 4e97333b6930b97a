"""The Book aggregate's pictures: pages stored before their picture (text first), drawing a failed
picture again, giving back what dead attempts hold, and the events every change records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from app.domain.book import Book, BookState
from app.domain.errors import (
    IllustrationNotNeeded,
    IllustrationsNotReady,
    InvalidBookState,
    InvalidValue,
    PageNotFound,
    StaleGeneration,
)
from app.domain.events import BookEvent, EventName, FailedStage
from app.domain.finished import FinishedBook
from app.domain.values import ChildInput, ImageAttempt, ImageStatus, Page, Questions, Title, Usage
from tests.unit.fakes import LEASE, T0, done_book, image_of, opened_book, write_pages

ASK = Questions(("What is on the map?",))
NONE = Questions()
IMAGE_LEASE = timedelta(seconds=90)
LATER = T0 + timedelta(seconds=30)
DRAWN = Usage(images=1)
TICK = timedelta(microseconds=1)

Make = Callable[[], Book]
Action = Callable[[Book, str, datetime], None]


# -- builders --------------------------------------------------------------------------------


def generating_book(page_count: int = 3, pages: int = 0, attempt: str = "a1") -> Book:
    book = write_pages(opened_book(page_count), pages)
    book.begin_generation(attempt, ChildInput(f"idea {len(book.pages) + 1}"), T0, LEASE)
    book.events_stored()
    return book


def text_first(book: Book, attempt: str | None = None, *, now: datetime = T0) -> Page:
    """Write the next page text-first: its picture is left being drawn by `attempt`."""
    number = len(book.pages) + 1
    attempt = attempt or f"p{number}"
    book.begin_generation(attempt, ChildInput(f"idea {number}"), now, LEASE)
    questions = NONE if number == book.spec.page_count else Questions((f"after {number}?",))
    return book.complete_page(
        attempt, f"text {number}", None, questions, now, image_lease=IMAGE_LEASE
    )


def written_text_first(page_count: int = 3, pages: int = 1) -> Book:
    """An open book whose `pages` pages are all stored text-first, every picture pending."""
    book = opened_book(page_count)
    for _ in range(pages):
        text_first(book)
    book.events_stored()
    return book


def failed_picture_book(page_count: int = 3) -> Book:
    """Page 1 stored text-first, its picture failed."""
    book = written_text_first(page_count, 1)
    book.fail_illustration(1, "p1", LATER)
    book.events_stored()
    return book


def attach(book: Book, number: int, attempt: str | None = None, *, now: datetime = LATER) -> Page:
    return book.attach_illustration(
        number, attempt or f"p{number}", image_of(book, number), now, DRAWN
    )


def names(book: Book) -> list[str]:
    return [event.name.value for event in book.pending_events]


def only(book: Book, name: EventName) -> BookEvent:
    [event] = [e for e in book.pending_events if e.name is name]
    return event


def snapshot(book: Book) -> tuple[object, ...]:
    return (
        book.state,
        book.version,
        list(book.pages),
        book.questions,
        book.generation,
        book.updated_at,
        book.usage,
        book.summary,
        book.pending_events,
    )


def finish(book: Book, now: datetime = LATER, force: bool = False) -> FinishedBook:
    """Claim the book for a finish and build the book kept under that claim."""
    book.begin_finish(
        "claim-1", "request-1", Title("Momo and the Map"), now, timedelta(seconds=30), force=force
    )
    return book.finished_book(
        f"books/{book.id}/cover.png", lambda n: f"books/{book.id}/pages/{n}.png"
    )


# -- complete_page, text first ---------------------------------------------------------------


def test_a_page_stored_without_its_picture_is_pending_and_held_by_its_attempt() -> None:
    book = generating_book(attempt="a1")
    version = book.version

    page = book.complete_page("a1", "Momo runs.", None, ASK, LATER, image_lease=IMAGE_LEASE)

    assert page.image_key is None
    assert page.image_attempt == ImageAttempt("a1", LATER + IMAGE_LEASE)
    assert page.image_status is ImageStatus.PENDING
    assert page.image_status_at(LATER) is ImageStatus.PENDING
    assert book.pages == [page]
    assert book.state is BookState.IN_PROGRESS
    assert book.generation is None
    assert book.questions == ASK
    assert book.version == version + 1


def test_a_text_first_page_records_its_text_and_the_next_questions_at_the_new_version() -> None:
    book = generating_book(attempt="a1")

    book.complete_page("a1", "  Momo runs.  ", None, ASK, LATER, image_lease=IMAGE_LEASE)

    assert names(book) == ["page_text", "questions"]
    text, questions = book.pending_events
    assert text == BookEvent(
        EventName.PAGE_TEXT,
        book.id,
        book.version,
        {"page": 1, "input": "idea 1", "text": "Momo runs."},
    )
    assert questions == BookEvent(
        EventName.QUESTIONS, book.id, book.version, {"page": 1, "questions": [ASK.items[0]]}
    )


def test_a_later_text_first_page_records_its_own_number() -> None:
    book = generating_book(page_count=4, pages=2, attempt="a3")
    book.complete_page("a3", "third", None, ASK, LATER, image_lease=IMAGE_LEASE)
    assert [e.data["page"] for e in book.pending_events] == [3, 3]
    assert only(book, EventName.PAGE_TEXT).data["text"] == "third"


def test_the_last_page_stored_text_first_makes_the_book_done_but_not_book_done() -> None:
    book = generating_book(page_count=2, pages=1, attempt="last")

    book.complete_page("last", "The end.", None, NONE, LATER, image_lease=IMAGE_LEASE)

    assert book.state is BookState.DONE
    assert book.questions == NONE
    assert names(book) == ["page_text"]  # no questions, and the picture is not drawn yet
    assert book.pages[-1].image_status is ImageStatus.PENDING


@pytest.mark.parametrize(
    "lease", [None, timedelta(0), timedelta(seconds=-1)], ids=["none", "zero", "negative"]
)
def test_a_page_stored_before_its_picture_needs_a_positive_image_lease(
    lease: timedelta | None,
) -> None:
    book = generating_book(attempt="a1")
    before = snapshot(book)
    with pytest.raises(InvalidValue):
        book.complete_page("a1", "Momo runs.", None, ASK, LATER, image_lease=lease)
    assert snapshot(book) == before


def test_a_stale_attempt_cannot_store_a_page_text_first() -> None:
    book = generating_book(attempt="a1")
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        book.complete_page("other", "Momo runs.", None, ASK, LATER, image_lease=IMAGE_LEASE)
    with pytest.raises(StaleGeneration):
        book.complete_page("a1", "Momo runs.", None, ASK, T0 + LEASE, image_lease=IMAGE_LEASE)
    assert snapshot(book) == before


def test_the_next_page_may_be_written_while_a_picture_is_still_being_drawn() -> None:
    book = written_text_first(3, 1)
    generation = book.begin_generation("p2", ChildInput("idea 2"), LATER, LEASE)
    assert generation.page_number == 2
    assert book.pages[0].image_status is ImageStatus.PENDING


# -- complete_page, all at once --------------------------------------------------------------


def test_a_page_with_its_picture_records_text_questions_image_ready_and_page_done_in_order() -> (
    None
):
    book = generating_book(attempt="a1")
    key = image_of(book, 1)

    book.complete_page("a1", "Momo runs.", key, ASK, LATER)

    assert names(book) == ["page_text", "questions", "image_ready", "page_done"]
    assert book.pages[0].image_status is ImageStatus.READY
    assert only(book, EventName.IMAGE_READY).data == {"page": 1, "image_key": key}
    assert only(book, EventName.PAGE_DONE).data == {"page": 1, "state": "bookInProgress"}
    assert {e.version for e in book.pending_events} == {book.version}


def test_the_last_page_with_its_picture_records_book_done_after_page_done() -> None:
    book = generating_book(page_count=2, pages=1, attempt="last")

    book.complete_page("last", "The end.", image_of(book, 2), NONE, LATER)

    assert names(book) == ["page_text", "image_ready", "page_done", "book_done"]
    assert only(book, EventName.PAGE_DONE).data == {"page": 2, "state": "done"}
    assert only(book, EventName.BOOK_DONE).data == {"pages": 2}


def test_a_book_written_all_at_once_records_book_done_exactly_once() -> None:
    book = done_book(3)
    assert names(book).count("book_done") == 1
    assert names(book)[-1] == "book_done"


# -- attach_illustration ---------------------------------------------------------------------


def test_attaching_the_picture_makes_the_page_ready_and_records_image_ready_then_page_done() -> (
    None
):
    book = written_text_first(3, 1)
    version, usage = book.version, book.usage
    key = image_of(book, 1)

    page = book.attach_illustration(1, "p1", key, LATER, DRAWN)

    assert page == Page(1, "idea 1", "text 1", key)
    assert book.pages == [page]
    assert page.image_status is ImageStatus.READY
    assert page.image_attempt is None
    assert book.version == version + 1
    assert book.updated_at == LATER
    assert book.usage == usage + DRAWN
    assert names(book) == ["image_ready", "page_done"]
    ready, done = book.pending_events
    assert ready == BookEvent(
        EventName.IMAGE_READY, book.id, book.version, {"page": 1, "image_key": key}
    )
    assert done == BookEvent(
        EventName.PAGE_DONE, book.id, book.version, {"page": 1, "state": "bookInProgress"}
    )


def test_attaching_keeps_the_state_the_book_is_in() -> None:
    book = written_text_first(3, 1)
    book.begin_generation("p2", ChildInput("idea 2"), LATER, LEASE)
    book.events_stored()
    attach(book, 1)
    assert book.state is BookState.GENERATING
    assert book.generation is not None
    assert book.generation.attempt_id == "p2"
    assert only(book, EventName.PAGE_DONE).data == {"page": 1, "state": "generating"}


def test_the_last_picture_of_a_done_book_records_book_done() -> None:
    book = write_pages(opened_book(2), 1)
    text_first(book, "last")
    book.events_stored()

    attach(book, 2, "last")

    assert names(book) == ["image_ready", "page_done", "book_done"]
    assert only(book, EventName.PAGE_DONE).data == {"page": 2, "state": "done"}
    assert only(book, EventName.BOOK_DONE) == BookEvent(
        EventName.BOOK_DONE, book.id, book.version, {"pages": 2}
    )


def test_book_done_waits_for_an_earlier_picture_that_finishes_after_the_last_pages_text() -> None:
    book = written_text_first(2, 2)  # both pictures pending, the book done
    assert book.state is BookState.DONE

    attach(book, 2)
    assert names(book) == ["image_ready", "page_done"]  # page 1 is still being drawn
    book.events_stored()

    attach(book, 1)
    assert names(book) == ["image_ready", "page_done", "book_done"]
    assert only(book, EventName.PAGE_DONE).data == {"page": 1, "state": "done"}


def test_book_done_waits_for_an_earlier_picture_when_the_last_page_comes_with_its_own() -> None:
    book = written_text_first(2, 1)
    book.begin_generation("last", ChildInput("idea 2"), LATER, LEASE)
    book.complete_page("last", "The end.", image_of(book, 2), NONE, LATER)
    assert "book_done" not in names(book)
    book.events_stored()

    attach(book, 1)

    assert names(book) == ["image_ready", "page_done", "book_done"]


def test_book_done_is_recorded_exactly_once_over_the_whole_book() -> None:
    book = opened_book(3)
    recorded: list[BookEvent] = []
    for _ in range(3):
        text_first(book)
        recorded += book.pending_events
        book.events_stored()
    for number in (3, 1, 2):
        attach(book, number)
        recorded += book.pending_events
        book.events_stored()

    done = [e for e in recorded if e.name is EventName.BOOK_DONE]
    assert len(done) == 1
    assert recorded[-1] is done[0]  # recorded by the picture that made the book complete


def test_book_done_comes_once_a_failed_picture_is_drawn_again() -> None:
    book = failed_picture_book(page_count=2)
    book.begin_generation("last", ChildInput("idea 2"), LATER, LEASE)
    book.complete_page("last", "The end.", image_of(book, 2), NONE, LATER)
    assert "book_done" not in names(book)
    book.events_stored()

    book.begin_illustration(1, "again", LATER, LEASE)
    assert names(book) == []
    attach(book, 1, "again")

    assert names(book) == ["image_ready", "page_done", "book_done"]


# -- fail_illustration -----------------------------------------------------------------------


def test_a_picture_that_could_not_be_drawn_fails_and_the_page_keeps_its_text() -> None:
    book = written_text_first(3, 1)
    version, usage = book.version, book.usage

    book.fail_illustration(1, "p1", LATER, usage=Usage(tokens_in=2))

    [page] = book.pages
    assert page == Page(1, "idea 1", "text 1", None)
    assert page.image_status is ImageStatus.FAILED
    assert page.image_status_at(LATER) is ImageStatus.FAILED
    assert book.version == version + 1
    assert book.usage == usage + Usage(tokens_in=2)
    assert book.state is BookState.IN_PROGRESS
    assert book.pending_events == (
        BookEvent(
            EventName.GENERATION_FAILED,
            book.id,
            book.version,
            {
                "page": 1,
                "stage": FailedStage.ILLUSTRATION.value,
                "detail": "the picture could not be drawn",
            },
        ),
    )
    assert FailedStage.ILLUSTRATION.value == "illustration"


def test_a_failed_last_picture_leaves_the_book_done_without_book_done() -> None:
    book = written_text_first(1, 1)
    book.fail_illustration(1, "p1", LATER)
    assert book.state is BookState.DONE
    assert names(book) == ["generation_failed"]


# -- the fence on pictures -------------------------------------------------------------------


def _attach(book: Book, attempt: str, now: datetime) -> None:
    book.attach_illustration(1, attempt, image_of(book, 1), now, DRAWN)


def _fail(book: Book, attempt: str, now: datetime) -> None:
    book.fail_illustration(1, attempt, now)


@pytest.mark.parametrize("action", [_attach, _fail], ids=["attach", "fail"])
@pytest.mark.parametrize(
    ("make", "attempt", "now"),
    [
        (lambda: written_text_first(3, 1), "someone-else", LATER),
        (lambda: written_text_first(3, 1), "p1", T0 + IMAGE_LEASE),
        (lambda: written_text_first(3, 1), "p1", T0 + IMAGE_LEASE + timedelta(hours=1)),
        (lambda: failed_picture_book(), "p1", LATER),
        (lambda: done_book(3), "attempt-1", LATER),
    ],
    ids=[
        "another attempt",
        "lease just passed",
        "lease long passed",
        "picture already failed",
        "picture already drawn",
    ],
)
def test_an_attempt_that_no_longer_holds_the_picture_cannot_store_it(
    action: Action, make: Make, attempt: str, now: datetime
) -> None:
    book = make()
    book.events_stored()
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        action(book, attempt, now)
    assert snapshot(book) == before
    assert book.pending_events == ()


def test_the_attempt_may_still_store_its_picture_just_before_its_lease_passes() -> None:
    book = written_text_first(3, 1)
    attach(book, 1, now=T0 + IMAGE_LEASE - TICK)
    assert book.pages[0].image_status is ImageStatus.READY


def test_a_replaced_attempt_cannot_store_its_picture_over_the_new_one() -> None:
    book = written_text_first(3, 1)
    book.begin_illustration(1, "new", T0 + IMAGE_LEASE, LEASE)  # the old lease passed
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        attach(book, 1, "p1", now=T0 + IMAGE_LEASE)
    with pytest.raises(StaleGeneration):
        book.fail_illustration(1, "p1", T0 + IMAGE_LEASE)
    assert snapshot(book) == before
    attach(book, 1, "new", now=T0 + IMAGE_LEASE)
    assert book.pages[0].image_status is ImageStatus.READY


@pytest.mark.parametrize("number", [0, 2, -1])
def test_pictures_of_pages_the_book_does_not_have_are_page_not_found(number: int) -> None:
    book = written_text_first(3, 1)
    before = snapshot(book)
    with pytest.raises(PageNotFound):
        book.attach_illustration(number, "p1", "key", LATER, DRAWN)
    with pytest.raises(PageNotFound):
        book.fail_illustration(number, "p1", LATER)
    with pytest.raises(PageNotFound):
        book.begin_illustration(number, "again", LATER, LEASE)
    assert snapshot(book) == before


# -- begin_illustration ----------------------------------------------------------------------


def test_a_failed_picture_can_be_drawn_again_without_touching_the_text() -> None:
    book = failed_picture_book()
    version = book.version
    text = book.pages[0].text

    attempt = book.begin_illustration(1, "again", LATER, LEASE)

    assert attempt == ImageAttempt("again", LATER + LEASE)
    [page] = book.pages
    assert page.image_attempt == attempt
    assert page.image_key is None
    assert page.image_status_at(LATER) is ImageStatus.PENDING
    assert (page.number, page.input, page.text) == (1, "idea 1", text)
    assert book.version == version + 1
    assert book.updated_at == LATER
    assert book.state is BookState.IN_PROGRESS
    assert book.pending_events == ()


def test_a_pending_picture_whose_lease_passed_can_be_drawn_again() -> None:
    book = written_text_first(3, 1)
    at = T0 + IMAGE_LEASE
    attempt = book.begin_illustration(1, "again", at, LEASE)
    assert attempt == ImageAttempt("again", at + LEASE)
    assert book.pages[0].image_attempt == attempt


def test_a_failed_picture_of_a_done_book_can_be_drawn_again() -> None:
    book = written_text_first(1, 1)
    book.fail_illustration(1, "p1", LATER)
    book.begin_illustration(1, "again", LATER, LEASE)
    assert book.state is BookState.DONE
    assert book.pages[0].image_status is ImageStatus.PENDING


@pytest.mark.parametrize(
    ("make", "now"),
    [
        (lambda: done_book(3), LATER),
        (lambda: written_text_first(3, 1), LATER),
        (lambda: written_text_first(3, 1), T0 + IMAGE_LEASE - TICK),
    ],
    ids=["ready", "pending", "pending, lease about to pass"],
)
def test_a_picture_drawn_or_being_drawn_is_not_drawn_again(make: Make, now: datetime) -> None:
    book = make()
    book.events_stored()
    before = snapshot(book)
    with pytest.raises(IllustrationNotNeeded) as caught:
        book.begin_illustration(1, "again", now, LEASE)
    assert isinstance(caught.value, InvalidBookState)
    assert snapshot(book) == before


def test_a_book_with_no_page_has_no_picture_to_draw_again() -> None:
    with pytest.raises(PageNotFound):
        opened_book().begin_illustration(1, "again", LATER, LEASE)


# -- finishing waits for the pictures --------------------------------------------------------


def test_illustrations_not_ready_is_an_invalid_book_state() -> None:
    assert issubclass(IllustrationsNotReady, InvalidBookState)


@pytest.mark.parametrize("force", [False, True], ids=["user", "admin force"])
def test_a_done_book_is_not_finished_while_a_picture_is_being_drawn(force: bool) -> None:
    book = written_text_first(2, 2)
    attach(book, 2)
    before = snapshot(book)
    with pytest.raises(IllustrationsNotReady, match="1"):
        finish(book, force=force)
    assert snapshot(book) == before


@pytest.mark.parametrize("force", [False, True], ids=["user", "admin force"])
def test_a_done_book_is_not_finished_while_a_picture_failed(force: bool) -> None:
    book = written_text_first(2, 2)
    attach(book, 1)
    book.fail_illustration(2, "p2", LATER)
    with pytest.raises(IllustrationsNotReady, match="2"):
        finish(book, force=force)


def test_a_force_finish_of_a_book_in_progress_waits_for_its_pictures() -> None:
    book = written_text_first(3, 2)
    attach(book, 1)
    with pytest.raises(IllustrationsNotReady):
        finish(book, force=True)
    attach(book, 2)
    finished = finish(book, force=True)
    assert [p.number for p in finished.pages] == [1, 2]


def test_finishing_names_every_page_whose_picture_is_not_ready() -> None:
    book = written_text_first(3, 3)
    attach(book, 2)
    with pytest.raises(IllustrationsNotReady) as caught:
        finish(book)
    assert "1, 3" in str(caught.value)


def test_a_picture_whose_lease_passed_keeps_the_book_from_being_finished() -> None:
    book = written_text_first(1, 1)
    with pytest.raises(IllustrationsNotReady):
        finish(book, now=T0 + IMAGE_LEASE + timedelta(hours=1))


def test_a_done_book_is_finished_once_every_picture_is_ready() -> None:
    book = written_text_first(2, 2)
    attach(book, 1)
    attach(book, 2)
    finished = finish(book)
    assert [p.number for p in finished.pages] == [1, 2]


# -- image_status_at -------------------------------------------------------------------------


def test_a_pending_picture_is_reported_failed_once_its_lease_passes() -> None:
    book = written_text_first(3, 1)
    page = book.pages[0]
    deadline = T0 + IMAGE_LEASE
    assert page.image_status_at(deadline - TICK) is ImageStatus.PENDING
    assert page.image_status_at(deadline) is ImageStatus.FAILED
    assert page.image_status_at(deadline + timedelta(days=1)) is ImageStatus.FAILED
    assert page.image_status is ImageStatus.PENDING  # reporting changes nothing


def test_ready_and_failed_pictures_are_reported_as_they_are_at_any_time() -> None:
    ready = done_book(1).pages[0]
    failed = failed_picture_book().pages[0]
    for when in (T0, T0 + timedelta(days=30)):
        assert ready.image_status_at(when) is ImageStatus.READY
        assert failed.image_status_at(when) is ImageStatus.FAILED


# -- give_up_expired -------------------------------------------------------------------------


def test_a_generation_whose_lease_passed_is_given_up_and_announced() -> None:
    book = generating_book(page_count=3, pages=1, attempt="dead")
    version = book.version
    at = T0 + LEASE

    assert book.give_up_expired(at) is True

    assert book.state is BookState.IN_PROGRESS
    assert book.generation is None
    assert len(book.pages) == 1
    assert book.version == version + 1
    assert book.updated_at == at
    assert book.pending_events == (
        BookEvent(
            EventName.GENERATION_FAILED,
            book.id,
            book.version,
            {
                "page": 2,
                "stage": "text",
                "detail": "the page took too long and was given up; it can be written again",
            },
        ),
    )
    with pytest.raises(StaleGeneration):
        book.complete_page("dead", "late", image_of(book, 2), ASK, at)


def test_a_picture_whose_lease_passed_is_given_up_and_announced() -> None:
    book = written_text_first(3, 2)
    attach(book, 1)
    book.events_stored()
    at = T0 + IMAGE_LEASE

    assert book.give_up_expired(at) is True

    assert book.pages[0].image_status is ImageStatus.READY
    assert book.pages[1] == Page(2, "idea 2", "text 2", None)
    assert book.pages[1].image_status is ImageStatus.FAILED
    assert book.pending_events == (
        BookEvent(
            EventName.GENERATION_FAILED,
            book.id,
            book.version,
            {
                "page": 2,
                "stage": "illustration",
                "detail": "the picture took too long and was given up",
            },
        ),
    )
    with pytest.raises(StaleGeneration):
        attach(book, 2, now=at)


def test_giving_up_a_picture_leaves_a_live_generation_alone() -> None:
    book = written_text_first(3, 1)
    at = T0 + IMAGE_LEASE
    book.begin_generation("live", ChildInput("idea 2"), at - TICK, LEASE)
    book.events_stored()

    assert book.give_up_expired(at) is True

    assert book.state is BookState.GENERATING
    assert book.generation is not None
    assert book.generation.attempt_id == "live"
    assert book.pages[0].image_status is ImageStatus.FAILED
    assert names(book) == ["generation_failed"]
    assert book.pending_events[0].data["stage"] == "illustration"


def test_everything_whose_lease_passed_is_given_up_at_once() -> None:
    book = written_text_first(3, 2)
    book.begin_generation("dead", ChildInput("idea 3"), T0, LEASE)
    book.events_stored()

    assert book.give_up_expired(T0 + timedelta(hours=1)) is True

    assert book.state is BookState.IN_PROGRESS
    assert [p.image_status for p in book.pages] == [ImageStatus.FAILED, ImageStatus.FAILED]
    assert [(e.name.value, e.data["page"], e.data["stage"]) for e in book.pending_events] == [
        ("generation_failed", 3, "text"),
        ("generation_failed", 1, "illustration"),
        ("generation_failed", 2, "illustration"),
    ]
    assert book.expiring_attempts_at is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: opened_book(),
        lambda: done_book(),
        lambda: generating_book(),
        lambda: written_text_first(3, 1),
        lambda: failed_picture_book(),
    ],
    ids=["in progress", "done", "live generation", "live picture", "failed picture"],
)
def test_nothing_is_given_up_while_every_lease_lives(make: Make) -> None:
    book = make()
    book.events_stored()
    before = snapshot(book)
    assert book.give_up_expired(T0 + LEASE - TICK) is False
    assert snapshot(book) == before
    assert book.pending_events == ()


def test_giving_up_twice_changes_nothing_the_second_time() -> None:
    book = written_text_first(3, 1)
    book.begin_generation("dead", ChildInput("idea 2"), T0, LEASE)
    at = T0 + timedelta(hours=1)
    assert book.give_up_expired(at) is True
    book.events_stored()
    before = snapshot(book)
    assert book.give_up_expired(at + timedelta(hours=1)) is False
    assert snapshot(book) == before


# -- begin_generation taking over ------------------------------------------------------------


def test_taking_over_a_generation_whose_lease_passed_announces_the_old_one_failed() -> None:
    book = generating_book(page_count=3, pages=1, attempt="old")
    version = book.version
    at = T0 + LEASE

    book.begin_generation("new", ChildInput("another idea"), at, LEASE)

    assert book.version == version + 1
    assert book.generation is not None
    assert book.generation.attempt_id == "new"
    assert book.pending_events == (
        BookEvent(
            EventName.GENERATION_FAILED,
            book.id,
            book.version,
            {
                "page": 2,
                "stage": "text",
                "detail": "the page took too long and was given up; it can be written again",
            },
        ),
    )


def test_beginning_a_generation_on_a_free_book_records_nothing() -> None:
    book = opened_book()
    book.begin_generation("a1", ChildInput("idea"), T0, LEASE)
    assert book.pending_events == ()


def test_a_failed_generation_is_announced_with_its_detail() -> None:
    book = generating_book(page_count=3, pages=1, attempt="a2")
    book.fail_generation("a2", LATER, detail="the writer is down")
    assert book.pending_events == (
        BookEvent(
            EventName.GENERATION_FAILED,
            book.id,
            book.version,
            {"page": 2, "stage": "text", "detail": "the writer is down"},
        ),
    )


# -- the events ------------------------------------------------------------------------------


def test_events_carry_the_id_of_their_book() -> None:
    other = UUID(int=0xABCD)
    book = opened_book(book_id=other)
    text_first(book)
    attach(book, 1)
    assert book.pending_events
    assert {e.book_id for e in book.pending_events} == {other}


def test_each_change_records_its_events_at_the_version_it_gave_the_book() -> None:
    book = opened_book(2)
    text_first(book)
    after_text = book.version
    attach(book, 1)
    after_picture = book.version
    assert [(e.name.value, e.version) for e in book.pending_events] == [
        ("page_text", after_text),
        ("questions", after_text),
        ("image_ready", after_picture),
        ("page_done", after_picture),
    ]
    assert after_picture == after_text + 1


def test_events_stay_pending_until_stored_and_then_are_cleared() -> None:
    book = written_text_first(3, 1)
    assert book.pending_events == ()
    attach(book, 1)
    pending = book.pending_events
    assert isinstance(pending, tuple)
    assert len(pending) == 2

    book.events_stored()

    assert book.pending_events == ()
    assert len(pending) == 2  # what was handed out is a copy
    book.begin_generation("p2", ChildInput("idea 2"), LATER, LEASE)
    book.fail_generation("p2", LATER)
    assert names(book) == ["generation_failed"]


def test_a_refused_change_records_no_event() -> None:
    book = done_book(2)
    book.events_stored()
    with pytest.raises(InvalidBookState):
        book.begin_generation("late", ChildInput("more"), LATER, LEASE)
    with pytest.raises(IllustrationNotNeeded):
        book.begin_illustration(1, "again", LATER, LEASE)
    assert book.pending_events == ()


# -- expiring_attempts_at --------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [lambda: opened_book(), lambda: done_book(), lambda: failed_picture_book()],
    ids=["in progress", "done", "failed picture"],
)
def test_a_book_that_holds_nothing_has_no_expiring_attempt(make: Make) -> None:
    assert make().expiring_attempts_at is None


def test_a_generating_book_expires_when_its_generation_lease_passes() -> None:
    assert generating_book().expiring_attempts_at == T0 + LEASE


def test_a_picture_being_drawn_expires_when_its_lease_passes() -> None:
    book = written_text_first(3, 1)
    assert book.expiring_attempts_at == T0 + IMAGE_LEASE


def test_the_earliest_lease_held_on_the_book_is_when_it_expires() -> None:
    book = opened_book(4)
    text_first(book, now=T0 + timedelta(seconds=20))  # picture until T0+110s
    text_first(book, now=T0)  # picture until T0+90s
    assert book.expiring_attempts_at == T0 + IMAGE_LEASE
    book.begin_generation("p3", ChildInput("idea 3"), T0 - timedelta(seconds=40), LEASE)
    assert book.expiring_attempts_at == T0 + timedelta(seconds=20)  # the generation's, earliest
    attach(book, 2, now=T0)
    book.complete_page("p3", "text 3", image_of(book, 3), ASK, T0)
    assert book.expiring_attempts_at == T0 + timedelta(seconds=20) + IMAGE_LEASE
    attach(book, 1, now=T0)
    assert book.expiring_attempts_at is None
