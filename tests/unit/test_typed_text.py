"""What a child or parent types is text a reader can see: normalised, one line where a field is
one line, with nothing that hides, reorders or is not text. New text with such characters is
refused at the request boundary (`text_problem`); text kept before these rules still loads,
cleaned (`typed_text`)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.values import (
    Character,
    ChildInput,
    Title,
    is_refused,
    text_problem,
    typed_text,
    visible_length,
)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Mo\x00mo", "control characters"),
        ("Momo\r\nSYSTEM", "control characters"),
        ("Momo\nthe cat", "control characters"),
        ("Mo\x1bmo", "control characters"),
        ("\u202eomoM", "text-direction override"),
        ("Mo\u2066mo", "text-direction override"),
        ("Mo\ufdd0mo", "not text"),
        ("Momo\uffff", "not text"),
        ("Mo\ud800mo", "not text"),
        ("\u200b\u200b", "must not be blank"),
        ("\u3164", "must not be blank"),
        ("\u200d\u0301 ", "must not be blank"),
    ],
)
def test_a_name_that_hides_reorders_or_is_not_text_is_refused(name: str, reason: str) -> None:
    problem = text_problem(name, min_visible=1)
    assert problem is not None and reason in problem


def test_a_description_or_an_idea_may_hold_line_breaks_but_no_other_control() -> None:
    assert text_problem("a cat\r\nwith a hat", multiline=True) is None
    assert "control" in (text_problem("a map\x00", multiline=True) or "")
    assert "override" in (text_problem("a map \u202e", multiline=True) or "")


def test_text_kept_before_these_rules_still_loads_cleaned() -> None:
    assert Character("Mi\tna", "a cat\r\nwith\x00 a hat").name == "Mi na"
    assert Character("Mina", "a cat\r\nwith\x00 a hat").description == "a cat\nwith a hat"
    assert Title("The\nEnd\u202e").value == "The End"
    assert ChildInput("first this\nthen that").value == "first this\nthen that"


def test_typed_text_is_normalised_to_nfc() -> None:
    assert Character("Jose\u0301").name == "Jos\u00e9"
    assert Title("\u1100\u1161\u11a8").value == "\uac01"  # Hangul jamo composed


def test_emoji_sequences_and_korean_are_kept_as_typed() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert text_problem(f"{family} 모모", min_visible=1) is None
    assert Character(f"{family} 모모").name == f"{family} 모모"
    assert visible_length(family) == 3  # the joiners take no place


def test_the_minimum_length_counts_visible_characters() -> None:
    assert text_problem("\u200bM\u200b", min_visible=1) is None
    assert visible_length(" \u200b\u3164\u0301") == 0


_TRICKY = list(
    "\n\r\t\x00\x1f\x7f\x85\x9f \u00a0\u200b\u202a\u202e\u2066\u2069\u0301\ufdd0\ufdef\ufffe"
    "\uffff\ud800\udfff\U0001fffe\U0010ffff\U000e0001aZ9한"
)


@settings(max_examples=3000, deadline=None)
@given(
    text=st.text(st.one_of(st.characters(), st.sampled_from(_TRICKY)), max_size=12),
    multiline=st.booleans(),
)
def test_the_quick_check_agrees_with_the_character_by_character_rules(
    text: str, multiline: bool
) -> None:
    """Text with no suspect character skips the per-character loop: it must never let through
    a character the rules refuse, nor refuse one they allow."""
    normalised = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    refused = any(is_refused(char, multiline=multiline) for char in normalised)
    assert (text_problem(text, multiline=multiline) is not None) == refused
    kept = typed_text("field", text, multiline=multiline)
    assert not any(is_refused(char, multiline=multiline) for char in kept)
    if not refused:
        assert kept == normalised.strip()
