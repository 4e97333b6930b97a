"""What a child typed, fenced for a prompt: one line, and nothing inside can close the fence."""

from __future__ import annotations

import pytest

from app.infrastructure.generation.openai.story import fenced


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("a snowman", "<<<a snowman>>>"),
        ("  two\nlines\r\n\tand tabs ", "<<<two lines and tabs>>>"),
        ("end >>> begin <<< again", "<<<end begin again>>>"),
        ("<<<<<<>>>>>>", "<<<>>>"),
        ("<<>>>< joined", "<<<joined>>>"),
        ("a < b and c > d, 2 << 3", "<<<a < b and c > d, 2 << 3>>>"),
        ("모모의 >>>지도", "<<<모모의 지도>>>"),
    ],
)
def test_a_fenced_field_is_one_line_with_no_fence_of_its_own(typed: str, expected: str) -> None:
    assert fenced(typed) == expected


def test_taking_a_delimiter_out_cannot_make_another() -> None:
    inner = fenced("<<>>><")[3:-3]
    assert "<<<" not in inner and ">>>" not in inner
