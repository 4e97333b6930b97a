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

# Where characters are assigned (planes 0-3 and 14); elsewhere every code point is unassigned
# or private use, which the rules take as visible, except each plane's two noncharacters.
# Surrogates are left out: a lone one is not Unicode text that a client could send (JSON
# parsers of most languages replace it), and a pattern naming them is refused by validators
# built on Rust's or Go's regular expressions. The server still refuses them.
_SCANNED = (range(0x0, 0xD800), range(0xE000, 0x40000), range(0xE0000, 0xF0000))
_UNSCANNED_PLANES = [*range(4, 14), 15, 16]


Ranges = list[tuple[int, int]]


def _ranges(holds: Callable[[str], bool]) -> Ranges:
    found: Ranges = []
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
def _refused(multiline: bool) -> Ranges:
    return _ranges(lambda c: is_refused(c, multiline=multiline))


@cache
def _invisible() -> Ranges:
    return _ranges(lambda c: not is_visible(c))


@cache
def _trimmed() -> Ranges:
    """What the server trims from a field's ends first: Python's whitespace (spaces, tabs, line
    breaks and the other separators; all in the Basic Multilingual Plane, all invisible)."""
    return _merged([(c, c) for c in range(0x10000) if chr(c).isspace()])


def typed_text_pattern(*, multiline: bool, needs_visible: bool) -> str:
    """Whitespace, the text, whitespace; written so that no two parts can take the same
    character where it matters (the text starts and ends with a character that is not
    whitespace, and the first visible one ends what comes before it), so that a backtracking
    engine checks a refused text in time quadratic in its length, not worse."""
    refused, space = _refused(multiline), _trimmed()
    ends = f"[{_class(space)}]*"
    allowed = f"[^{_class(refused)}]"
    edge = f"[^{_class(_merged([*refused, *space]))}]"  # a text's first or last character
    rest = f"(?:{allowed}*{edge})?"
    if not needs_visible:
        return f"^{ends}(?:{edge}{rest})?{ends}$"
    unseen = _minus(_invisible(), refused)  # allowed, but not visible
    first_unseen = _minus(unseen, space)
    before = f"(?:[{_class(first_unseen)}][{_class(unseen)}]*)?"
    seen = f"[^{_class(_merged([*refused, *_invisible()]))}]"  # the first visible character
    return f"^{ends}{before}{seen}{rest}{ends}$"


def _merged(ranges: Iterable[tuple[int, int]]) -> Ranges:
    merged: Ranges = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _minus(ranges: Ranges, taken: Ranges) -> Ranges:
    """The code points of `ranges` that are not in `taken` (both merged and sorted)."""
    left: Ranges = []
    for start, end in ranges:
        for cut_start, cut_end in taken:
            if cut_end < start or cut_start > end:
                continue
            if cut_start > start:
                left.append((start, cut_start - 1))
            start = cut_end + 1
            if start > end:
                break
        if start <= end:
            left.append((start, end))
    return left
