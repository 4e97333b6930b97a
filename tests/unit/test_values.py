"""Value objects: each validates itself on construction and is frozen."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import DomainError, InvalidValue
from app.domain.values import (
    BookLifetime,
    BookSpec,
    Character,
    ChildInput,
    Generation,
    Language,
    Page,
    Questions,
    StoryContext,
    Title,
    UserId,
)

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
MOMO = Character("Momo")


def spec(**kwargs: object) -> BookSpec:
    values: dict[str, object] = {"characters": (MOMO,), "page_count": 3}
    values.update(kwargs)
    return BookSpec(**values)  # type: ignore[arg-type]


def generation(**kwargs: object) -> Generation:
    values: dict[str, object] = {
        "attempt_id": "a1",
        "page_number": 1,
        "input": "idea",
        "started_at": T0,
        "lease_deadline": T0 + timedelta(seconds=60),
    }
    values.update(kwargs)
    return Generation(**values)  # type: ignore[arg-type]


def test_invalid_value_is_a_named_domain_error_with_its_field() -> None:
    with pytest.raises(InvalidValue) as caught:
        Title("  ")
    assert isinstance(caught.value, DomainError)
    assert caught.value.field == "title"


# -- UserId ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["a", "alice", "A-Z_a.z@0-9", "x" * 64, "user@example.com", "0123"]
)
def test_user_id_accepts_1_to_64_allowed_characters(value: str) -> None:
    assert UserId(value).value == value
    assert str(UserId(value)) == value


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65, "has space", "slash/", "back\\slash", "colon:", "ümlaut", "tab\t", "new\n", 42],
)
def test_user_id_refuses_anything_outside_the_pattern(value: object) -> None:
    with pytest.raises(InvalidValue):
        UserId(value)  # type: ignore[arg-type]


def test_user_id_refuses_a_trailing_newline() -> None:
    with pytest.raises(InvalidValue):
        UserId("alice\n")


def test_user_ids_compare_by_value() -> None:
    assert UserId("alice") == UserId("alice")
    assert UserId("alice") != UserId("bob")


# -- Character -------------------------------------------------------------------------------


def test_character_name_and_description_are_trimmed() -> None:
    character = Character("  Momo  ", "  a rabbit \n")
    assert character.name == "Momo"
    assert character.description == "a rabbit"


def test_character_description_defaults_to_empty() -> None:
    assert Character("Momo").description == ""


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_character_name_blank_after_trim_is_refused(name: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        Character(name)
    assert caught.value.field == "name"


def test_character_name_length_limit_is_40_after_trim() -> None:
    assert Character(" " + "n" * 40 + " ").name == "n" * 40
    with pytest.raises(InvalidValue):
        Character("n" * 41)


def test_character_description_length_limit_is_300_and_blank_is_allowed() -> None:
    assert Character("Momo", "   ").description == ""
    assert Character("Momo", "d" * 300).description == "d" * 300
    with pytest.raises(InvalidValue) as caught:
        Character("Momo", "d" * 301)
    assert caught.value.field == "description"


def test_character_refuses_a_non_string_name() -> None:
    with pytest.raises(InvalidValue):
        Character(None)  # type: ignore[arg-type]


# -- BookSpec --------------------------------------------------------------------------------


def test_book_spec_defaults() -> None:
    made = spec()
    assert made.language is Language.EN
    assert made.reader_age is None
    assert made.setting == ""


@pytest.mark.parametrize("page_count", [1, 2, 19, 20])
def test_book_spec_accepts_page_count_1_to_20(page_count: int) -> None:
    assert spec(page_count=page_count).page_count == page_count


@pytest.mark.parametrize("page_count", [0, -1, 21, 100])
def test_book_spec_refuses_page_count_outside_1_to_20(page_count: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        spec(page_count=page_count)
    assert caught.value.field == "page_count"


@pytest.mark.parametrize("page_count", [True, False])
def test_book_spec_refuses_a_bool_page_count(page_count: bool) -> None:
    with pytest.raises(InvalidValue):
        spec(page_count=page_count)


@pytest.mark.parametrize("page_count", [3.0, 2.5, "3", None])
def test_book_spec_refuses_a_page_count_that_is_not_an_integer(page_count: object) -> None:
    with pytest.raises(InvalidValue):
        spec(page_count=page_count)


@pytest.mark.parametrize("age", [None, 2, 7, 12])
def test_book_spec_accepts_reader_age_2_to_12_or_none(age: int | None) -> None:
    assert spec(reader_age=age).reader_age == age


@pytest.mark.parametrize("age", [0, 1, 13, -5, True, False, 5.5, "5"])
def test_book_spec_refuses_other_reader_ages(age: object) -> None:
    with pytest.raises(InvalidValue) as caught:
        spec(reader_age=age)
    assert caught.value.field == "reader_age"


@pytest.mark.parametrize("count", [1, 5])
def test_book_spec_accepts_1_to_5_characters(count: int) -> None:
    characters = tuple(Character(f"C{i}") for i in range(count))
    assert spec(characters=characters).characters == characters


@pytest.mark.parametrize("count", [0, 6])
def test_book_spec_refuses_no_character_or_more_than_5(count: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        spec(characters=tuple(Character(f"C{i}") for i in range(count)))
    assert caught.value.field == "characters"


@pytest.mark.parametrize(("given", "expected"), [("en", Language.EN), ("ko", Language.KO)])
def test_book_spec_takes_language_en_or_ko(given: str, expected: Language) -> None:
    assert spec(language=given).language is expected


@pytest.mark.parametrize("language", ["fr", "EN", "", None])
def test_book_spec_refuses_another_language_as_an_invalid_value(language: object) -> None:
    with pytest.raises(InvalidValue) as caught:
        spec(language=language)
    assert caught.value.field == "language"


def test_book_spec_setting_is_trimmed_and_limited_to_200() -> None:
    assert spec(setting="  a snowy forest  ").setting == "a snowy forest"
    assert spec(setting="   ").setting == ""
    assert spec(setting="s" * 200).setting == "s" * 200
    with pytest.raises(InvalidValue) as caught:
        spec(setting="s" * 201)
    assert caught.value.field == "setting"


def test_book_spec_with_page_count_keeps_everything_else() -> None:
    original = spec(page_count=6, language="ko", reader_age=5, setting="sea")
    changed = original.with_page_count(2)
    assert changed.page_count == 2
    assert original.page_count == 6
    assert (changed.characters, changed.language, changed.reader_age, changed.setting) == (
        original.characters,
        Language.KO,
        5,
        "sea",
    )


def test_book_spec_with_page_count_still_validates() -> None:
    with pytest.raises(InvalidValue):
        spec().with_page_count(0)


# -- ChildInput, Title -----------------------------------------------------------------------


def test_child_input_is_trimmed() -> None:
    assert ChildInput("  Momo finds a map \n").value == "Momo finds a map"
    assert str(ChildInput(" x ")) == "x"


@pytest.mark.parametrize("value", ["", " ", "\n\t "])
def test_child_input_blank_after_trim_is_refused(value: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        ChildInput(value)
    assert caught.value.field == "input"


def test_child_input_is_1_to_500_characters_after_trim() -> None:
    assert ChildInput("a").value == "a"
    assert ChildInput("  " + "a" * 500 + "  ").value == "a" * 500
    with pytest.raises(InvalidValue):
        ChildInput("a" * 501)


def test_title_is_trimmed() -> None:
    assert Title("  Momo and the Map  ").value == "Momo and the Map"
    assert str(Title("x")) == "x"


@pytest.mark.parametrize("value", ["", "   "])
def test_title_blank_after_trim_is_refused(value: str) -> None:
    with pytest.raises(InvalidValue):
        Title(value)


def test_title_is_1_to_100_characters_after_trim() -> None:
    assert Title("t").value == "t"
    assert Title(" " + "t" * 100 + " ").value == "t" * 100
    with pytest.raises(InvalidValue):
        Title("t" * 101)


# -- Questions -------------------------------------------------------------------------------


def test_questions_default_to_none() -> None:
    assert Questions().items == ()
    assert len(Questions()) == 0


@pytest.mark.parametrize("count", [1, 2, 3])
def test_questions_hold_up_to_three(count: int) -> None:
    items = tuple(f"q{i}?" for i in range(count))
    assert Questions(items).items == items
    assert len(Questions(items)) == count


def test_questions_refuse_more_than_three() -> None:
    with pytest.raises(InvalidValue) as caught:
        Questions(("a", "b", "c", "d"))
    assert caught.value.field == "questions"


def test_questions_are_trimmed() -> None:
    assert Questions(("  What next?  ",)).items == ("What next?",)


@pytest.mark.parametrize("items", [("",), ("ok", "  "), ("\n",)])
def test_questions_refuse_a_blank_suggestion(items: tuple[str, ...]) -> None:
    with pytest.raises(InvalidValue):
        Questions(items)


def test_questions_refuse_a_suggestion_over_300_characters() -> None:
    assert Questions(("q" * 300,)).items == ("q" * 300,)
    with pytest.raises(InvalidValue):
        Questions(("q" * 301,))


# -- Page ------------------------------------------------------------------------------------


def test_page_text_is_trimmed() -> None:
    assert Page(1, "idea", "  Once upon a time.  ", "key").text == "Once upon a time."


@pytest.mark.parametrize("number", [0, -1])
def test_page_numbers_start_at_1(number: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        Page(number, "idea", "text", "key")
    assert caught.value.field == "number"


def test_page_refuses_blank_text() -> None:
    with pytest.raises(InvalidValue) as caught:
        Page(1, "idea", "  ", "key")
    assert caught.value.field == "text"


def test_page_text_is_at_most_5000_characters() -> None:
    assert Page(1, "idea", "t" * 5000, "key").text == "t" * 5000
    with pytest.raises(InvalidValue):
        Page(1, "idea", "t" * 5001, "key")


def test_page_needs_its_illustration() -> None:
    with pytest.raises(InvalidValue) as caught:
        Page(1, "idea", "text", "")
    assert caught.value.field == "image_key"


# -- Generation ------------------------------------------------------------------------------


def test_generation_lease_must_follow_the_start() -> None:
    assert generation(lease_deadline=T0 + timedelta(microseconds=1)).lease_deadline > T0
    with pytest.raises(InvalidValue) as caught:
        generation(lease_deadline=T0)
    assert caught.value.field == "lease_deadline"
    with pytest.raises(InvalidValue):
        generation(lease_deadline=T0 - timedelta(seconds=1))


def test_generation_needs_an_attempt_id() -> None:
    with pytest.raises(InvalidValue) as caught:
        generation(attempt_id="")
    assert caught.value.field == "attempt_id"


@pytest.mark.parametrize("field_name", ["started_at", "lease_deadline"])
def test_generation_times_must_be_timezone_aware(field_name: str) -> None:
    naive = {"started_at": T0, "lease_deadline": T0 + timedelta(seconds=60)}
    naive[field_name] = naive[field_name].replace(tzinfo=None)
    with pytest.raises(InvalidValue) as caught:
        generation(**naive)
    assert caught.value.field == field_name


def test_generation_lease_passes_at_its_deadline() -> None:
    made = generation()
    assert not made.lease_passed(T0)
    assert not made.lease_passed(T0 + timedelta(seconds=59, microseconds=999_999))
    assert made.lease_passed(T0 + timedelta(seconds=60))
    assert made.lease_passed(T0 + timedelta(hours=1))


# -- BookLifetime ----------------------------------------------------------------------------


def test_lifetime_expires_ttl_after_the_last_write() -> None:
    lifetime = BookLifetime(ttl=timedelta(hours=1), max_age=timedelta(days=1))
    assert lifetime.expires_at(T0, T0 + timedelta(hours=2)) == T0 + timedelta(hours=3)


def test_lifetime_never_exceeds_max_age_from_creation() -> None:
    lifetime = BookLifetime(ttl=timedelta(hours=1), max_age=timedelta(days=1))
    late_write = T0 + timedelta(hours=23, minutes=30)
    assert lifetime.expires_at(T0, late_write) == T0 + timedelta(days=1)


def test_lifetime_at_the_edge_both_bounds_agree() -> None:
    lifetime = BookLifetime(ttl=timedelta(hours=1), max_age=timedelta(hours=5))
    assert lifetime.expires_at(T0, T0 + timedelta(hours=4)) == T0 + timedelta(hours=5)


@pytest.mark.parametrize(
    ("ttl", "max_age"),
    [
        (timedelta(0), timedelta(days=1)),
        (timedelta(hours=1), timedelta(0)),
        (timedelta(seconds=-1), timedelta(days=1)),
        (timedelta(hours=1), timedelta(seconds=-1)),
    ],
)
def test_lifetime_refuses_a_ttl_or_max_age_that_is_not_positive(
    ttl: timedelta, max_age: timedelta
) -> None:
    with pytest.raises(InvalidValue):
        BookLifetime(ttl=ttl, max_age=max_age)


# -- StoryContext ----------------------------------------------------------------------------


def test_story_context_knows_the_next_page_and_the_last_one() -> None:
    context = StoryContext(spec(page_count=2))
    assert context.next_page_number == 1
    assert not context.is_last_page
    assert not context.is_complete
    after_one = context.with_page(Page(1, "idea", "text", "key"))
    assert after_one.next_page_number == 2
    assert after_one.is_last_page
    assert not after_one.is_complete
    after_two = after_one.with_page(Page(2, "idea", "text", "key"))
    assert after_two.is_complete
    assert context.pages == ()  # with_page makes a new context


# -- frozen ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "attribute"),
    [
        (UserId("alice"), "value"),
        (Character("Momo"), "name"),
        (spec(), "page_count"),
        (ChildInput("idea"), "value"),
        (Title("t"), "value"),
        (Questions(("q",)), "items"),
        (Page(1, "idea", "text", "key"), "text"),
        (generation(), "lease_deadline"),
        (BookLifetime(timedelta(hours=1), timedelta(days=1)), "ttl"),
        (StoryContext(spec()), "pages"),
    ],
)
def test_value_objects_are_frozen(value: object, attribute: str) -> None:
    before = getattr(value, attribute)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, attribute, before)
    assert getattr(value, attribute) == before
