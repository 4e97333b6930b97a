"""The OpenAPI patterns of typed-text fields accept exactly the text the server accepts."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from schemathesis.core.jsonschema.patterns import is_valid_jsonschema_rs_regex

from app.domain.values import text_problem
from app.interfaces.http.text_patterns import typed_text_pattern

RULES = [(multiline, visible) for multiline in (False, True) for visible in (False, True)]

# What the rules are about, mixed into the generated text so that it meets them often.
TRICKY = list(
    "\n\r\t\x00\x1f\x7f\x85\x9f \u00a0\u200b\u200d\u202e\u2066\u2069\u0301\u20dd"
    "\u115f\u3164\u2800\ufdd0\ufffe\ufeff\U0001fffe\U000e0001\U0010ffff"
    "aZ9한\u1100\u1161e\u0301\u2028\u3000"
)
# Without lone surrogates, which no client can send as text (see text_patterns.py).
texts = st.text(st.one_of(st.characters(codec="utf-8"), st.sampled_from(TRICKY)), max_size=6)


def accepted_by_pattern(pattern: str, text: str) -> bool:
    # As a JSON Schema validator reads it: `$` is the end of the text, not a final newline.
    return re.search(pattern.removesuffix("$") + r"\Z", text) is not None


@pytest.mark.parametrize(("multiline", "needs_visible"), RULES)
@settings(max_examples=3000, deadline=None)
@given(text=texts)
@example(text="\u200b")
@example(text="a\r\nb")
@example(text="\u202eevil")
@example(text="Momo")
def test_a_pattern_accepts_exactly_the_text_the_rules_accept(
    multiline: bool, needs_visible: bool, text: str
) -> None:
    pattern = typed_text_pattern(multiline=multiline, needs_visible=needs_visible)
    server = text_problem(text, multiline=multiline, min_visible=int(needs_visible)) is None
    assert accepted_by_pattern(pattern, text) == server, ascii(text)


def test_every_pattern_compiles_for_the_validators_clients_use() -> None:
    for multiline, needs_visible in RULES:
        pattern = typed_text_pattern(multiline=multiline, needs_visible=needs_visible)
        assert is_valid_jsonschema_rs_regex(pattern), (multiline, needs_visible)
