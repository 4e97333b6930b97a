"""Each typed-text field's JSON Schema (its pattern and lengths, as /openapi.json documents them)
accepts exactly the text the field itself accepts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from schemathesis.core.jsonschema.patterns import is_valid_jsonschema_rs_regex

from app.interfaces.http.schemas import TYPED_TEXT, Description, Name, PageInput, Setting, TitleText
from app.interfaces.http.text_patterns import typed_text_pattern

FIELDS: dict[str, Any] = {
    "name": Name,
    "description": Description,
    "setting": Setting,
    "input": PageInput,
    "title": TitleText,
}

# What the rules are about, mixed into the generated text so that it meets them often.
TRICKY = list(
    "\n\r\t\x0b\x00\x1f\x7f\x85\x9f \u00a0\u200b\u200d\u202e\u2066\u2069\u0301\u20dd"
    "\u115f\u3164\u2800\ufdd0\ufffe\ufeff\U0001fffe\U000e0001\U0010ffff\u3000\u2028"
    "aZ9한\u1100\u1161e"
)
# Without lone surrogates, which no client can send as text (see text_patterns.py).
characters = st.one_of(st.characters(codec="utf-8"), st.sampled_from(TRICKY))
texts = st.one_of(
    st.text(characters, max_size=8),
    st.builds(lambda a, b: a * 38 + b, st.sampled_from("a \t"), st.text(characters, max_size=5)),
)


def documented(field: Any) -> tuple[re.Pattern[str], int, int]:
    """The field's pattern and lengths as the OpenAPI document gives them."""
    schema = TypeAdapter(field).json_schema()
    pattern = typed_text_pattern(**schema[TYPED_TEXT])
    # As a JSON Schema validator reads it: `$` is the end of the text, not a final newline.
    return re.compile(pattern.removesuffix("$") + r"\Z"), schema["minLength"], schema["maxLength"]


DOCUMENTED = {name: documented(field) for name, field in FIELDS.items()}


def accepted_by_the_field(field: Any, text: str) -> bool:
    try:
        TypeAdapter(field).validate_python(text)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", FIELDS)
@settings(max_examples=1500, deadline=None)
@given(text=texts)
@example(text="\u200b")
@example(text="\tMomo\n")
@example(text="Momo\x85")
@example(text="idea\x0b")
@example(text="a\r\nb")
@example(text="\u202eevil")
@example(text=" " * 39 + "Mo")
def test_the_documented_schema_accepts_exactly_what_the_field_accepts(name: str, text: str) -> None:
    pattern, shortest, longest = DOCUMENTED[name]
    schema = shortest <= len(text) <= longest and pattern.search(text) is not None
    assert schema == accepted_by_the_field(FIELDS[name], text), ascii(text)


def test_every_pattern_compiles_for_the_validators_clients_use() -> None:
    for multiline in (False, True):
        for needs_visible in (False, True):
            pattern = typed_text_pattern(multiline=multiline, needs_visible=needs_visible)
            assert is_valid_jsonschema_rs_regex(pattern), (multiline, needs_visible)
