"""Language helpers shared by the offline context and question generators.

Stable choices (a SHA-256 of the inputs, never `hash()` or a global random, so a page reads the same
in every process), lists of names, and Korean particles picked by the final consonant of the word
they follow.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

from app.domain.values import Language

T = TypeVar("T")

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
# Particle token -> (form after a final consonant, form after a vowel).
_PARTICLES: Mapping[str, tuple[str, str]] = {
    "은": ("은", "는"),
    "이": ("이", "가"),
    "을": ("을", "를"),
    "와": ("과", "와"),
}
# How Korean reads a final digit: 영 일 삼 육 칠 팔 end in a consonant, 이 사 오 구 do not.
_DIGIT_HAS_FINAL = dict(zip("0123456789", (1, 1, 0, 1, 0, 0, 1, 1, 1, 0), strict=True))
# A rough guess for a Latin name read in Korean (Anna 안나가, Sam 샘이); else both forms.
_LATIN_VOWEL_END = frozenset("aeiouyrw")
_LATIN_CONSONANT_END = frozenset("lmn")
_PLACEHOLDER = re.compile(r"\{([a-z]+)(은|이|을|와)?\}")


def digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).digest()


def pick(options: Sequence[T], seed: bytes, slot: int = 0) -> T:
    """One of `options`, chosen by four bytes of `seed` (slots 0-7 are independent choices)."""
    start = (slot % 8) * 4
    return options[int.from_bytes(seed[start : start + 4], "big") % len(options)]


def has_final_consonant(word: str) -> bool | None:
    """Whether `word` ends in a final consonant when read in Korean; None when it cannot tell."""
    for char in reversed(word):
        if _HANGUL_FIRST <= ord(char) <= _HANGUL_LAST:
            return (ord(char) - _HANGUL_FIRST) % 28 != 0
        if char in _DIGIT_HAS_FINAL:
            return bool(_DIGIT_HAS_FINAL[char])
        lower = char.lower()
        if lower in _LATIN_VOWEL_END:
            return False
        if lower in _LATIN_CONSONANT_END:
            return True
        if char.isalpha():
            return None
    return None


def with_particle(word: str, token: str) -> str:
    """`word` followed by the Korean particle `token` (은, 이, 을 or 와) in its right form."""
    after_consonant, after_vowel = _PARTICLES[token]
    final = has_final_consonant(word)
    if final is None:
        return f"{word}{after_consonant}({after_vowel})"
    return word + (after_consonant if final else after_vowel)


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace `{key}` and `{key은}`-style placeholders; the latter add a Korean particle."""

    def replace(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        token = match.group(2)
        return with_particle(value, token) if token else value

    return _PLACEHOLDER.sub(replace, template)


def join_names(names: Sequence[str], language: Language) -> str:
    """Mina; Mina and Tori; Mina, Tori and Bo. In Korean: 민수와 지아; 민수, 지아와 하늘."""
    if len(names) == 1:
        return names[0]
    head, last = list(names[:-1]), names[-1]
    if language is Language.KO:
        head[-1] = with_particle(head[-1], "와")
        return f"{', '.join(head)} {last}"
    return f"{', '.join(head)} and {last}"


def and_friends(first: str, language: Language) -> str:
    """A short stand-in for a long list of names."""
    if language is Language.KO:
        return f"{with_particle(first, '와')} 친구들"
    return f"{first} and friends"
