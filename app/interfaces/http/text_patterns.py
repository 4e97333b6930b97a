"""The JSON Schema `pattern` of each typed-text field, derived from the domain's rules
(`text_problem`), so that a client or a test generator knows exactly which text is accepted:
whitespace at either end (trimmed), then no control, text-direction override or noncharacter,
and, for a field that needs one, at least one visible character.

Characters of the Basic Multilingual Plane are written as `\\uXXXX`; others appear as
themselves (a JSON document carries them escaped as a surrogate pair). Read the patterns with
Unicode semantics (JavaScript's `u` flag)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache

from app.domain.values import is_refused, is_visible

# What a field's ends may hold: the server trims it (Python's whitespace: spaces, tabs, line
# breaks and the other separators) before the rules apply.
_TRIMMED = [(c, c) for c in range(0x10000) if chr(c).isspace()]

# Where characters are assigned (planes 0-3 and 14); elsewhere every code point is unassigned
# or private use, which the rules take as visible, except each plane's two noncharacters.
# Surrogates are left out: a lone one is not Unicode text that a client could send (JSON
# parsers of most languages replace it), and a pattern naming them is refused by validators
# built on Rust's or Go's regular expressions. The server still refuses them.
_SCANNED = (range(0x0, 0xD800), range(0xE000, 0x40000), range(0xE0000, 0xF0000))
_UNSCANNED_PLANES = [*range(4, 14), 15, 16]


def _ranges(holds: Callable[[str], bool]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for block in _SCANNED:
        for code in block:
            if holds(chr(code)):
                if found and found[-1][1] == code - 1:
                    found[-1] = (found[-1][0], code)
                else:
                    found.append((code, code))
    for plane in _UNSCANNED_PLANES:
        end = plane * 0x10000 + 0xFFFF
        if holds(chr(end)):
            found.append((end - 1, end))
    return sorted(found)


def _char(code: int) -> str:
    return f"\\u{code:04X}" if code <= 0xFFFF else chr(code)


def _class(ranges: Iterable[tuple[int, int]]) -> str:
    parts = (_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges)
    return "".join(parts)


@cache
def _refused(multiline: bool) -> list[tuple[int, int]]:
    return _ranges(lambda c: is_refused(c, multiline=multiline))


@cache
def _invisible() -> list[tuple[int, int]]:
    return _ranges(lambda c: not is_visible(c))


def typed_text_pattern(*, multiline: bool, needs_visible: bool) -> str:
    refused = _refused(multiline)
    ends = f"[{_class(_merged(_TRIMMED))}]*"
    allowed = f"[^{_class(refused)}]*"
    if not needs_visible:
        return f"^{ends}{allowed}{ends}$"
    seen = f"[^{_class(_merged([*refused, *_invisible()]))}]"
    return f"^{ends}{allowed}{seen}{allowed}{ends}$"


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
