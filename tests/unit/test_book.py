"""The Book aggregate: every move of the state machine and every invariant it guards."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from uuid import UUID

import pytest

from app.domain.book import TRANSITIONS, Book, BookState
from app.domain.errors import (
    BeingFinished,
    BookComplete,
    BookNotDone,
    EmptyBook,
    GenerationInProgress,
    InvalidBookState,
    InvalidValue,
    StaleGeneration,
)
from app.domain.finished import FinishedBy
from app.domain.values import ChildInput, Generation, Page, Questions, Title
from tests.unit.fakes import (
    ALICE,
    LEASE,
    LIFETIME,
    T0,
    cover_of,
    done_book,
    image_of,
    make_spec,
    new_book,
    opened_book,
    write_pages,
)

IDEA = ChildInput("Momo finds a map")
ASK = Questions(("What is on the map?",))
NONE = Questions()
LATER = T0 + timedelta(seconds=30)


def generating_book(page_count: int = 3, pages: int = 0, attempt: str = "a1") -> Book:
    book = write_pages(opened_book(page_count), pages)
    book.begin_generation(attempt, IDEA, T0, LEASE)
    return book


def snapshot(book: Book) -> tuple[object, ...]:
    return (
        book.state,
        book.version,
        list(book.pages),
        book.questions,
        book.generation,
        book.updated_at,
        book.cover_key,
    )


def page_key(number: int) -> str:
    return f"books/{UUID(int=0xB00C)}/pages/{number}.png"


PERMANENT_COVER = f"books/{UUID(int=0xB00C)}/cover.png"


def finish(book: Book, **kwargs: object):  # type: ignore[no-untyped-def]
    """Claim the book for a finish and build the book kept under that claim."""
    now = kwargs.pop("now", LATER)
    book.begin_finish(
        "claim-1",
        "request-1",
        Title("Momo and the Map"),
        now,  # type: ignore[arg-type]
        timedelta(seconds=30),
        **kwargs,  # type: ignore[arg-type]
    )
    return book.finished_book(PERMANENT_COVER, page_key)


# -- the table -------------------------------------------------------------------------------


def test_the_transition_table_is_exactly_the_documented_state_machine() -> None:
    assert {state.value for state in BookState} == {
        "bookInit",
        "bookInProgress",
        "generating",
        "done",
    }
    expected = {
        BookState.INIT: {BookState.IN_PROGRESS},
        BookState.IN_PROGRESS: {BookState.GENERATING},
        BookState.GENERATING: {BookState.IN_PROGRESS, BookState.DONE},
        BookState.DONE: set(),
    }
    assert expected == TRANSITIONS


# -- start and open --------------------------------------------------------------------------


def test_a_new_book_starts_in_book_init_with_version_0() -> None:
    book = new_book()
    assert book.state is BookState.INIT
    assert book.version == 0
    assert book.pages == []
    assert book.questions == Questions()
    assert book.cover_key is None
    assert book.generation is None
    assert book.created_at == book.updated_at == T0
    assert book.user_id == ALICE


def test_start_refuses_a_naive_time() -> None:
    with pytest.raises(InvalidValue):
        Book.start(
            UUID(int=1), ALICE, make_spec(), LIFETIME, T0.replace(tzinfo=None), opening_lease=LEASE
        )


def test_open_moves_book_init_to_book_in_progress_with_cover_and_questions() -> None:
    book = new_book()
    book.open("staging/alice/x/cover.png", ASK, LATER)
    assert book.state is BookState.IN_PROGRESS
    assert book.cover_key == "staging/alice/x/cover.png"
    assert book.questions == ASK
    assert book.version == 1
    assert book.updated_at == LATER


def test_open_needs_a_cover() -> None:
    book = new_book()
    with pytest.raises(InvalidValue):
        book.open("", ASK, T0)
    assert book.state is BookState.INIT
    assert book.version == 0


def test_open_needs_at_least_one_question() -> None:
    book = new_book()
    with pytest.raises(InvalidValue):
        book.open("cover", NONE, T0)
    assert book.state is BookState.INIT
    assert book.version == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: opened_book(),
        lambda: generating_book(),
        lambda: done_book(),
    ],
    ids=["bookInProgress", "generating", "done"],
)
def test_open_is_refused_unless_book_init(make) -> None:  # type: ignore[no-untyped-def]
    book = make()
    before = snapshot(book)
    with pytest.raises(InvalidBookState):
        book.open("another-cover", ASK, LATER)
    assert snapshot(book) == before


# -- begin_generation ------------------------------------------------------------------------


def test_begin_generation_moves_book_in_progress_to_generating() -> None:
    book = opened_book()
    generation = book.begin_generation("a1", IDEA, LATER, LEASE)
    assert book.state is BookState.GENERATING
    assert book.generation == generation
    assert generation.attempt_id == "a1"
    assert generation.page_number == 1
    assert generation.input == "Momo finds a map"
    assert generation.started_at == LATER
    assert generation.lease_deadline == LATER + LEASE
    assert book.version == 2
    assert book.pages == []


def test_begin_generation_is_refused_from_book_init() -> None:
    book = new_book()
    with pytest.raises(InvalidBookState) as caught:
        book.begin_generation("a1", IDEA, T0, LEASE)
    assert not isinstance(caught.value, GenerationInProgress | BookComplete)
    assert book.state is BookState.INIT
    assert book.version == 0


def test_begin_generation_is_refused_while_generating_with_a_live_lease() -> None:
    book = generating_book()
    before = snapshot(book)
    with pytest.raises(GenerationInProgress):
        book.begin_generation("a2", IDEA, T0 + LEASE - timedelta(microseconds=1), LEASE)
    assert snapshot(book) == before
    assert book.generation is not None
    assert book.generation.attempt_id == "a1"


def test_begin_generation_is_refused_when_the_book_is_done() -> None:
    book = done_book()
    before = snapshot(book)
    with pytest.raises(BookComplete):
        book.begin_generation("a9", IDEA, LATER, LEASE)
    assert snapshot(book) == before


def test_begin_generation_numbers_the_next_page() -> None:
    book = write_pages(opened_book(5), 3)
    assert book.begin_generation("a4", IDEA, T0, LEASE).page_number == 4


# -- the lease -------------------------------------------------------------------------------


def test_a_generating_book_reports_generating_while_its_lease_lives() -> None:
    book = generating_book()
    assert book.state_at(T0) is BookState.GENERATING
    assert book.state_at(T0 + LEASE - timedelta(microseconds=1)) is BookState.GENERATING


def test_a_generating_book_whose_lease_passed_is_reported_as_book_in_progress() -> None:
    book = generating_book()
    assert book.state_at(T0 + LEASE) is BookState.IN_PROGRESS
    assert book.state_at(T0 + LEASE + timedelta(hours=1)) is BookState.IN_PROGRESS
    assert book.state is BookState.GENERATING  # reporting changes nothing


@pytest.mark.parametrize(
    ("make", "state"),
    [
        (lambda: new_book(), BookState.INIT),
        (lambda: opened_book(), BookState.IN_PROGRESS),
        (lambda: done_book(), BookState.DONE),
    ],
)
def test_state_at_reports_other_states_as_they_are(make, state: BookState) -> None:  # type: ignore[no-untyped-def]
    assert make().state_at(T0 + timedelta(days=3)) is state


def test_a_passed_lease_can_be_taken_over_by_a_new_generation() -> None:
    book = generating_book(attempt="old")
    version = book.version
    takeover_at = T0 + LEASE
    generation = book.begin_generation("new", ChildInput("another idea"), takeover_at, LEASE)
    assert book.state is BookState.GENERATING
    assert generation.attempt_id == "new"
    assert generation.page_number == 1
    assert generation.input == "another idea"
    assert generation.lease_deadline == takeover_at + LEASE
    assert book.version == version + 1


def test_after_a_takeover_the_old_attempt_cannot_complete_its_page() -> None:
    book = generating_book(attempt="old")
    book.begin_generation("new", IDEA, T0 + LEASE, LEASE)
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        book.complete_page("old", "late text", "late-key", ASK, T0 + LEASE)
    assert snapshot(book) == before


def test_after_a_takeover_the_old_attempt_cannot_fail_the_new_one() -> None:
    book = generating_book(attempt="old")
    book.begin_generation("new", IDEA, T0 + LEASE, LEASE)
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        book.fail_generation("old", T0 + LEASE)
    assert snapshot(book) == before
    book.complete_page("new", "text", "key", ASK, T0 + LEASE)
    assert [p.input for p in book.pages] == ["Momo finds a map"]


# -- complete_page ---------------------------------------------------------------------------


def test_complete_page_appends_the_page_and_returns_to_book_in_progress() -> None:
    book = generating_book()
    page = book.complete_page("a1", "  Once upon a time.  ", "img-1", ASK, LATER)
    assert page == Page(1, "Momo finds a map", "Once upon a time.", "img-1")
    assert book.pages == [page]
    assert book.state is BookState.IN_PROGRESS
    assert book.questions == ASK
    assert book.generation is None
    assert book.version == 3


def test_complete_page_needs_the_same_attempt_id() -> None:
    book = generating_book(attempt="a1")
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        book.complete_page("someone-else", "text", "key", ASK, T0)
    assert snapshot(book) == before


def test_complete_page_is_refused_once_the_lease_passed() -> None:
    book = generating_book()
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        book.complete_page("a1", "text", "key", ASK, T0 + LEASE)
    assert snapshot(book) == before


def test_complete_page_just_before_the_lease_passes_is_accepted() -> None:
    book = generating_book()
    book.complete_page("a1", "text", "key", ASK, T0 + LEASE - timedelta(microseconds=1))
    assert len(book.pages) == 1


@pytest.mark.parametrize(
    "make",
    [lambda: new_book(), lambda: opened_book(), lambda: done_book()],
    ids=["bookInit", "bookInProgress", "done"],
)
def test_complete_page_is_refused_when_not_generating(make) -> None:  # type: ignore[no-untyped-def]
    book = make()
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        book.complete_page("attempt-1", "text", "key", ASK, T0)
    assert snapshot(book) == before


def test_the_last_page_makes_the_book_done_with_no_questions() -> None:
    book = generating_book(page_count=2, pages=1)
    book.complete_page("a1", "The end.", "img-2", NONE, LATER)
    assert book.state is BookState.DONE
    assert [p.number for p in book.pages] == [1, 2]
    assert book.questions == Questions()
    assert book.generation is None


def test_complete_page_refuses_questions_on_the_last_page() -> None:
    book = generating_book(page_count=2, pages=1)
    before = snapshot(book)
    with pytest.raises(InvalidValue):
        book.complete_page("a1", "The end.", "img-2", ASK, LATER)
    assert snapshot(book) == before


def test_complete_page_refuses_no_questions_on_a_middle_page() -> None:
    book = generating_book(page_count=3, pages=1)
    before = snapshot(book)
    with pytest.raises(InvalidValue):
        book.complete_page("a1", "text", "img-2", NONE, LATER)
    assert snapshot(book) == before


def test_complete_page_refuses_blank_text_or_no_image() -> None:
    book = generating_book()
    before = snapshot(book)
    with pytest.raises(InvalidValue):
        book.complete_page("a1", "   ", "img", ASK, LATER)
    with pytest.raises(InvalidValue):
        book.complete_page("a1", "text", "", ASK, LATER)
    assert snapshot(book) == before


def test_a_one_page_book_is_done_after_its_only_page() -> None:
    book = generating_book(page_count=1)
    book.complete_page("a1", "All of it.", "img", NONE, LATER)
    assert book.state is BookState.DONE


@pytest.mark.parametrize("page_count", [1, 2, 5, 20])
def test_pages_run_1_to_n_with_no_gap_and_done_exactly_at_the_last(page_count: int) -> None:
    book = opened_book(page_count)
    for number in range(1, page_count + 1):
        assert book.state is BookState.IN_PROGRESS
        assert len(book.questions) >= 1
        write_pages(book, 1)
        assert [p.number for p in book.pages] == list(range(1, number + 1))
    assert book.state is BookState.DONE
    assert book.questions.items == ()


# -- fail_generation -------------------------------------------------------------------------


def test_fail_generation_returns_to_book_in_progress_with_no_page_added() -> None:
    book = generating_book(pages=1)
    questions_before = book.questions
    version = book.version
    book.fail_generation("a1", LATER)
    assert book.state is BookState.IN_PROGRESS
    assert len(book.pages) == 1
    assert book.generation is None
    assert book.questions == questions_before
    assert book.version == version + 1
    assert book.updated_at == LATER


def test_after_a_failed_generation_the_page_can_be_written_again() -> None:
    book = generating_book(attempt="a1")
    book.fail_generation("a1", T0)
    generation = book.begin_generation("a2", IDEA, T0, LEASE)
    assert generation.page_number == 1
    book.complete_page("a2", "text", "img", ASK, T0)
    assert [p.number for p in book.pages] == [1]


def test_fail_generation_needs_the_same_attempt_and_a_live_lease() -> None:
    book = generating_book(attempt="a1")
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        book.fail_generation("a2", T0)
    with pytest.raises(StaleGeneration):
        book.fail_generation("a1", T0 + LEASE)
    assert snapshot(book) == before


@pytest.mark.parametrize(
    "make",
    [lambda: new_book(), lambda: opened_book(), lambda: done_book()],
    ids=["bookInit", "bookInProgress", "done"],
)
def test_fail_generation_is_refused_when_not_generating(make) -> None:  # type: ignore[no-untyped-def]
    book = make()
    before = snapshot(book)
    with pytest.raises(StaleGeneration):
        book.fail_generation("attempt-1", T0)
    assert snapshot(book) == before


# -- version and times -----------------------------------------------------------------------


def test_version_goes_up_by_one_on_every_change() -> None:
    book = new_book(page_count=2)
    versions = [book.version]
    book.open("cover", ASK, T0)
    versions.append(book.version)
    book.begin_generation("a1", IDEA, T0, LEASE)
    versions.append(book.version)
    book.fail_generation("a1", T0)
    versions.append(book.version)
    book.begin_generation("a2", IDEA, T0, LEASE)
    versions.append(book.version)
    book.complete_page("a2", "text", "img", ASK, T0)
    versions.append(book.version)
    book.begin_generation("a3", IDEA, T0, LEASE)
    versions.append(book.version)
    book.begin_generation("a4", IDEA, T0 + LEASE, LEASE)  # takeover
    versions.append(book.version)
    book.complete_page("a4", "text", "img", NONE, T0 + LEASE)
    versions.append(book.version)
    assert versions == list(range(9))


def test_writes_move_updated_at_and_expires_at() -> None:
    book = new_book()
    assert book.expires_at == T0 + LIFETIME.ttl
    t1 = T0 + timedelta(hours=3)
    book.open("cover", ASK, t1)
    assert book.updated_at == t1
    assert book.expires_at == t1 + LIFETIME.ttl
    t2 = t1 + timedelta(hours=5)
    book.begin_generation("a1", IDEA, t2, LEASE)
    assert book.updated_at == t2
    assert book.expires_at == t2 + LIFETIME.ttl
    t3 = t2 + timedelta(seconds=30)
    book.complete_page("a1", "text", "img", ASK, t3)
    assert book.updated_at == t3
    assert book.expires_at == t3 + LIFETIME.ttl
    assert book.created_at == T0


def test_expires_at_never_passes_the_books_max_age() -> None:
    book = opened_book()
    late = T0 + LIFETIME.max_age - timedelta(hours=1)
    book.begin_generation("a1", IDEA, late, LEASE)
    assert book.expires_at == T0 + LIFETIME.max_age


def test_reading_the_state_does_not_move_the_times() -> None:
    book = generating_book()
    before = snapshot(book)
    book.state_at(T0 + timedelta(days=1))
    book.story_context()
    book.image_keys()
    assert snapshot(book) == before


def test_updated_at_never_goes_backwards() -> None:
    book = opened_book(now=LATER)
    book.begin_generation("a1", IDEA, T0, LEASE)
    assert book.updated_at == LATER


def test_a_change_with_a_naive_time_is_refused() -> None:
    book = new_book()
    with pytest.raises(InvalidValue):
        book.open("cover", ASK, T0.replace(tzinfo=None))


# -- story context and image keys ------------------------------------------------------------


def test_story_context_holds_the_spec_and_pages_so_far() -> None:
    book = write_pages(opened_book(3), 2)
    context = book.story_context()
    assert context.spec == book.spec
    assert context.pages == tuple(book.pages)
    assert context.next_page_number == 3


def test_image_keys_are_the_cover_then_every_page() -> None:
    book = done_book(2)
    assert book.image_keys() == [cover_of(book), image_of(book, 1), image_of(book, 2)]
    assert new_book().image_keys() == []


# -- finish ----------------------------------------------------------------------------------


def test_finish_a_done_book_makes_a_finished_book_with_the_permanent_keys_given() -> None:
    book = done_book(2)
    finished = finish(book)
    assert finished.id == book.id
    assert finished.user_id == ALICE
    assert finished.title == Title("Momo and the Map")
    assert finished.spec == book.spec
    assert finished.cover_key == PERMANENT_COVER
    assert [(p.number, p.input, p.text, p.image_key) for p in finished.pages] == [
        (1, "idea 1", "text 1", page_key(1)),
        (2, "idea 2", "text 2", page_key(2)),
    ]
    assert finished.created_at == T0
    assert finished.finished_at == LATER
    assert finished.finished_by is FinishedBy.USER


def test_a_finish_claim_is_one_change_and_gives_the_same_book_every_time() -> None:
    book = done_book(2)
    version = book.version
    kept = finish(book)
    assert book.version == version + 1
    assert book.finish_claim is not None and book.finish_claim.title == Title("Momo and the Map")
    assert book.finished_book(PERMANENT_COVER, page_key) == kept


def test_a_book_being_finished_refuses_pages_pictures_discards_and_other_finishes() -> None:
    book = done_book(2)
    finish(book)
    before = snapshot(book)
    with pytest.raises(BeingFinished):
        book.begin_illustration(1, "a-2", LATER, timedelta(seconds=60))
    with pytest.raises(BeingFinished):
        book.ensure_discardable()
    with pytest.raises(BeingFinished):
        book.begin_finish("claim-2", "request-2", Title("Other"), LATER, timedelta(seconds=30))
    assert (
        book.begin_finish(
            "claim-3", "request-1", Title("Momo and the Map"), LATER, timedelta(seconds=30)
        )
        == book.finish_claim
    )  # the same request again resumes its claim
    assert snapshot(book) == before


def test_a_forced_finish_fences_a_book_in_progress_against_its_next_page() -> None:
    book = opened_book(3)
    write_pages(book, 1)
    finish(book, force=True)
    with pytest.raises(BeingFinished):
        book.begin_generation("a-9", ChildInput("more"), LATER, timedelta(seconds=60))


def test_the_change_ids_kept_on_a_book_are_the_latest() -> None:
    book = done_book(1)
    for n in range(20):
        book.mark_change(f"change-{n}")
    assert book.has_change("change-19") and book.has_change("change-4")
    assert not book.has_change("change-3")


def test_finish_records_who_finished() -> None:
    assert finish(done_book(), finished_by=FinishedBy.ADMIN).finished_by is FinishedBy.ADMIN


@pytest.mark.parametrize(
    "make",
    [
        lambda: new_book(),
        lambda: opened_book(),
        lambda: write_pages(opened_book(3), 2),
        lambda: generating_book(),
    ],
    ids=["bookInit", "no page", "some pages", "generating"],
)
def test_finish_is_refused_unless_done(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BookNotDone):
        finish(make())


def test_finish_of_a_generating_book_whose_lease_passed_is_still_refused_unless_done() -> None:
    with pytest.raises(BookNotDone):
        finish(generating_book(pages=1), now=T0 + LEASE)


def test_force_finish_keeps_the_pages_it_has_and_sets_page_count_to_them() -> None:
    book = write_pages(opened_book(6), 2)
    finished = finish(book, force=True, finished_by=FinishedBy.ADMIN)
    assert finished.spec.page_count == 2
    assert [p.number for p in finished.pages] == [1, 2]
    assert finished.finished_by is FinishedBy.ADMIN
    assert book.spec.page_count == 6  # the book in progress is not changed


def test_force_finish_of_a_done_book_finishes_as_usual() -> None:
    finished = finish(done_book(3), force=True)
    assert finished.spec.page_count == 3
    assert len(finished.pages) == 3


def test_force_finish_with_no_page_is_refused_as_an_empty_book() -> None:
    with pytest.raises(EmptyBook):
        finish(opened_book(), force=True)


def test_force_finish_while_generating_with_a_live_lease_is_refused() -> None:
    book = generating_book(pages=2)
    with pytest.raises(InvalidBookState) as caught:
        finish(book, force=True, now=T0 + LEASE - timedelta(seconds=1))
    assert not isinstance(caught.value, EmptyBook)


def test_force_finish_after_the_generation_lease_passed_keeps_the_written_pages() -> None:
    book = generating_book(pages=2)
    finished = finish(book, force=True, now=T0 + LEASE)
    assert [p.number for p in finished.pages] == [1, 2]


def test_force_finish_of_a_generating_book_with_no_page_and_passed_lease_is_empty() -> None:
    with pytest.raises(EmptyBook):
        finish(generating_book(pages=0), force=True, now=T0 + LEASE)


def test_force_finish_is_refused_from_book_init() -> None:
    with pytest.raises(BookNotDone):
        finish(new_book(), force=True)


# -- construction guards the invariants ------------------------------------------------------


def valid_fields(page_count: int = 3) -> dict[str, object]:
    return {
        "id": UUID(int=1),
        "user_id": ALICE,
        "spec": make_spec(page_count),
        "lifetime": LIFETIME,
        "created_at": T0,
        "updated_at": T0,
        "state": BookState.IN_PROGRESS,
        "pages": [Page(1, "i", "t", "k1")],
        "questions": ASK,
        "cover_key": "cover",
        "generation": None,
        "version": 3,
    }


def live_generation(page_number: int) -> Generation:
    return Generation("a1", page_number, "idea", T0, T0 + LEASE)


def test_a_book_with_valid_fields_can_be_built() -> None:
    book = Book(**valid_fields())  # type: ignore[arg-type]
    assert book.state is BookState.IN_PROGRESS


def test_a_copy_of_a_book_is_independent() -> None:
    book = opened_book()
    twin = copy.deepcopy(book)
    write_pages(twin, 1)
    assert book.pages == []


@pytest.mark.parametrize(
    "changes",
    [
        {"pages": [Page(1, "i", "t", "k"), Page(3, "i", "t", "k")]},
        {"pages": [Page(2, "i", "t", "k")]},
        {"pages": [Page(1, "i", "t", "k"), Page(1, "i", "t", "k")]},
        {"pages": [Page(n, "i", "t", "k") for n in range(1, 5)]},
        {"state": BookState.DONE, "questions": Questions()},
        {"pages": [Page(n, "i", "t", "k") for n in range(1, 4)]},
        {"state": BookState.GENERATING},
        {"generation": live_generation(2)},
        {"cover_key": None},
        {"state": BookState.DONE, "cover_key": None, "questions": Questions(), "pages": []},
        {"questions": Questions()},
        {
            "state": BookState.DONE,
            "pages": [Page(n, "i", "t", "k") for n in range(1, 4)],
            "questions": ASK,
        },
        {"state": BookState.INIT, "cover_key": None, "questions": Questions()},
        {"state": BookState.INIT, "pages": [], "cover_key": None, "questions": ASK},
        {"state": BookState.GENERATING, "generation": live_generation(3)},
        {"state": BookState.GENERATING, "generation": live_generation(2), "questions": Questions()},
        {"version": -1},
    ],
    ids=[
        "gap",
        "starts at 2",
        "duplicate",
        "more pages than the book",
        "done too early",
        "all pages but not done",
        "generating without generation",
        "generation while not generating",
        "open without cover",
        "done without cover or pages",
        "in progress without questions",
        "done with questions",
        "init with pages",
        "init with questions",
        "generation for the wrong page",
        "generating without questions",
        "negative version",
    ],
)
def test_building_a_book_that_breaks_an_invariant_raises_invalid_value(
    changes: dict[str, object],
) -> None:
    fields = valid_fields()
    fields.update(changes)
    with pytest.raises(InvalidValue):
        Book(**fields)  # type: ignore[arg-type]


def test_a_stored_generating_book_can_be_built_back() -> None:
    fields = valid_fields()
    fields.update(state=BookState.GENERATING, generation=live_generation(2))
    book = Book(**fields)  # type: ignore[arg-type]
    assert book.state_at(T0) is BookState.GENERATING


def test_a_stored_done_book_can_be_built_back() -> None:
    fields = valid_fields()
    fields.update(
        state=BookState.DONE,
        pages=[Page(n, "i", "t", "k") for n in range(1, 4)],
        questions=Questions(),
    )
    assert Book(**fields).state is BookState.DONE  # type: ignore[arg-type]


def test_a_copy_changes_apart_from_the_book_it_was_copied_from() -> None:
    book = opened_book(3)
    write_pages(book, 1)
    book.begin_generation("a2", IDEA, T0, LEASE)
    copied = book.copy()
    assert copied.pending_events == ()
    assert (copied.version, copied.pages, copied.generation) == (
        book.version,
        book.pages,
        book.generation,
    )
    copied.complete_page("a2", "Page two.", image_of(book, 2), ASK, T0, image_lease=LEASE)
    assert len(copied.pages) == 2 and len(book.pages) == 1
    assert book.state is BookState.GENERATING and book.version == copied.version - 1


def test_a_new_book_is_held_for_its_opening_until_it_opens() -> None:
    book = new_book()
    assert book.state is BookState.INIT
    assert book.opening_deadline == T0 + LEASE
    assert book.expiring_attempts_at == T0 + LEASE
    assert not book.opening_abandoned(T0 + LEASE - timedelta(seconds=1))
    assert book.opening_abandoned(T0 + LEASE)
    book.open(cover_of(book), ASK, T0)
    assert book.opening_deadline is None
    assert not book.opening_abandoned(T0 + LEASE * 10)
    with pytest.raises(InvalidBookState):
        book.ensure_opening_abandoned(T0 + LEASE * 10)


def test_a_new_book_needs_a_positive_opening_lease() -> None:
    with pytest.raises(InvalidValue, match="opening_lease"):
        Book.start(UUID(int=1), ALICE, make_spec(), LIFETIME, T0, opening_lease=timedelta(0))


def test_only_a_book_not_yet_open_is_held_for_its_opening() -> None:
    book = opened_book()
    with pytest.raises(InvalidValue, match="opening"):
        dataclasses.replace(book, opening_deadline=T0)
