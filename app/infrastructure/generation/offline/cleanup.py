"""Tidy a child's typed idea into a sentence: the words stay the child's own."""

from __future__ import annotations

import re
import unicodedata

_JOINERS = frozenset({"\u200d"})  # zero-width joiner: part of family and flag emoji
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
_WHITESPACE = re.compile(r"\s+")
_SPACE_BEFORE_MARK = re.compile(r"\s+([.,!?;:])")
_REPEATED_MARKS = re.compile(r"([!?])[!?]+")
_LONG_DOTS = re.compile(r"\.{4,}")
_SENTENCE_START = re.compile(r"(^|[.!?…]\s+)([\"'\u201c\u2018(]*)(\w)")
_LONE_I = re.compile(r"(?<![\w'\u2019])i(?=$|[\s,.!?;:'\u2019])")
_TRAILING_SOFT_MARKS = re.compile(r"[\s,;:\-\u2013—]+$")
_CLOSERS = "\"'\u201d\u2019)]」』"
_TERMINALS = frozenset(".!?…。\uff01\uff1f~")


def tidy(text: str, *, english: bool, max_len: int) -> str:
    """Trimmed, one space between words, no control characters, capitalised, punctuated.

    Returns "" when nothing printable is left.
    """
    text = unicodedata.normalize("NFC", text)
    text = _WHITESPACE.sub(" ", text)
    text = "".join(
        char
        for char in text
        if char in _JOINERS or unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    text = _WHITESPACE.sub(" ", text).strip()
    text = _SPACE_BEFORE_MARK.sub(r"\1", text)
    text = _REPEATED_MARKS.sub(r"\1", text)
    text = _LONG_DOTS.sub("...", text)
    if english:
        text = _LONE_I.sub("I", text)
    text = _TRAILING_SOFT_MARKS.sub("", text)
    if not text:
        return ""
    text = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2) + m.group(3).upper(), text)
    if len(text) > max_len:
        text = _shorten(text, max_len)
    return text if _ends_a_sentence(text) else text + "."


def _ends_a_sentence(text: str) -> bool:
    stripped = text.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _TERMINALS


def _shorten(text: str, max_len: int) -> str:
    cut = text[: max_len - 1]
    space = cut.rfind(" ")
    if space > max_len // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"
