"""A finished book: kept for good, valid by construction, never changed again."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from uuid import UUID

import pytest

from app.domain.errors import InvalidValue
from app.domain.finished import FinishedBook, FinishedBookSummary, FinishedBy, FinishedPage
from app.domain.values import Title
from tests.unit.fakes import ALICE, T0, make_spec

BOOK_ID = UUID(int=7)
COVER = f"books/{BOOK_ID}/cover.png"


def pages(count: int) -> tuple[FinishedPage, ...]:
    return tuple(
        FinishedPage(n, f"idea {n}", f"text {n}", f"books/{BOOK_ID}/pages/{n}.png")
        for n in range(1, count + 1)
    )


def finished(**changes: object) -> FinishedBook:
    fields: dict[str, object] = {
        "id": BOOK_ID,
        "user_id": ALICE,
        "title": Title("Momo"),
        "spec": make_spec(2),
        "pages": pages(2),
        "cover_key": COVER,
        "created_at": T0,
        "finished_at": T0 + timedelta(hours=1),
        "finished_by": FinishedBy.USER,
    }
    fields.update(changes)
    return FinishedBook(**fields)  # type: ignore[arg-type]


def test_finished_by_has_the_wire_values_user_and_admin() -> None:
    assert [member.value for member in FinishedBy] == ["user", "admin"]


def test_a_finished_book_needs_at_least_one_page() -> None:
    with pytest.raises(InvalidValue) as caught:
        finished(pages=(), spec=make_spec(1))
    assert caught.value.field == "pages"


@pytest.mark.parametrize(
    "numbers", [(1, 3), (2, 3), (1, 1), (2, 1)], ids=["gap", "from 2", "dup", "order"]
)
def test_a_finished_books_pages_run_1_to_n_with_no_gap(numbers: tuple[int, int]) -> None:
    broken = tuple(FinishedPage(n, "i", "t", "k") for n in numbers)
    with pytest.raises(InvalidValue):
        finished(pages=broken)


def test_a_finished_books_page_count_is_exactly_its_pages() -> None:
    with pytest.raises(InvalidValue) as caught:
        finished(spec=make_spec(3))
    assert caught.value.field == "page_count"


def test_a_finished_book_lists_its_cover_then_its_pages_as_image_keys() -> None:
    assert finished().image_keys() == [
        COVER,
        f"books/{BOOK_ID}/pages/1.png",
        f"books/{BOOK_ID}/pages/2.png",
    ]


def test_a_finished_book_summary_carries_the_shelf_fields() -> None:
    book = finished()
    assert book.summary() == FinishedBookSummary(
        BOOK_ID,
        ALICE,
        Title("Momo"),
        COVER,
        2,
        T0 + timedelta(hours=1),
        book.spec.language,
        book.finished_by,
        book.usage,
    )


def test_a_finished_book_is_frozen() -> None:
    book = finished()
    with pytest.raises(dataclasses.FrozenInstanceError):
        book.title = Title("Other")  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        book.pages[0].text = "changed"  # type: ignore[misc]
    assert book.title == Title("Momo")
