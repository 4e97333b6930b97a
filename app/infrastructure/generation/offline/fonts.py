"""Fonts for the Pillow illustrator, and what it does with text a font cannot draw.

Pillow's built-in scalable font (`ImageFont.load_default(size=...)`, Aileron) covers basic Latin
only: no Hangul, not even "é". So the illustrator looks for a CJK-capable TrueType font at a few
well-known paths (Noto Sans CJK, Nanum Gothic, Apple SD Gothic Neo, Malgun Gothic) and draws all
text with it when one is found. Whatever the font, a character it has no glyph for is never drawn as
a tofu box: typographic punctuation becomes its ASCII twin, an accented letter its base letter
(é -> e), and anything else is left out. Without a CJK font, Korean names and scenes are therefore
skipped while the figures, colours and page number are still drawn.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from PIL import ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKkr-Regular.otf",
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/nanum/NanumGothic.ttf",
    "/System/Library/Fonts/AppleSDGothicNeo.ttc",
    "C:/Windows/Fonts/malgun.ttf",
)
_ASCII_TWINS = {
    "\u2014": "-",
    "\u2013": "-",
    "\u201c": '"',
    "\u201d": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u2026": "...",
}
_NO_GLYPH_PROBE = "\uffff"  # a noncharacter: every font draws its "missing glyph" for it
_local = threading.local()


def find_cjk_font(candidates: Iterable[str | Path]) -> Path | None:
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


class FontBook:
    """The fonts of one thread, by size (a FreeType face is not shared between threads)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._fonts: dict[int, Font] = {}
        self._has_glyph: dict[str, bool] = {}
        self._missing = self._signature(_NO_GLYPH_PROBE)

    @property
    def has_cjk(self) -> bool:
        return self._path is not None

    def get(self, size: int) -> Font:
        font = self._fonts.get(size)
        if font is None:
            if self._path is not None:
                font = ImageFont.truetype(str(self._path), size)
            else:
                font = ImageFont.load_default(size=size)
            self._fonts[size] = font
        return font

    def drawable(self, text: str) -> str:
        """`text` with only what this font can draw; see the module docstring."""
        kept: list[str] = []
        for char in text:
            if char.isspace():
                kept.append(" ")
            elif self._can_draw(char):
                kept.append(char)
            elif char in _ASCII_TWINS:
                kept.append(_ASCII_TWINS[char])
            else:
                base = "".join(
                    c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
                )
                if base and base != char and all(self._can_draw(c) for c in base):
                    kept.append(base)
        return " ".join("".join(kept).split())

    def wrap(self, text: str, size: int, max_width: int, max_lines: int) -> list[str]:
        """Greedy word wrap; a word wider than a line is split; overflow ends in an ellipsis."""
        font = self.get(size)
        lines: list[str] = []
        line = ""
        for word in text.split(" "):
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= max_width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for char in word:
                if font.getlength(line + char) > max_width and line:
                    lines.append(line)
                    line = ""
                line += char
        if line:
            lines.append(line)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            last = lines[-1]
            while last and font.getlength(last + "...") > max_width:
                space = last.rfind(" ")
                last = last[:space] if space > 0 else last[:-1]
            lines[-1] = last.rstrip() + "..."
        return lines

    def _can_draw(self, char: str) -> bool:
        known = self._has_glyph.get(char)
        if known is None:
            known = self._signature(char) != self._missing
            self._has_glyph[char] = known
        return known

    def _signature(self, char: str) -> tuple[tuple[int, int], bytes]:
        mask = self.get(16).getmask(char)
        return mask.size, bytes(mask)


def font_book(path: Path | None) -> FontBook:
    """This thread's FontBook for `path`, built once per thread."""
    books: dict[Path | None, FontBook] | None = getattr(_local, "books", None)
    if books is None:
        books = {}
        _local.books = books
    book = books.get(path)
    if book is None:
        book = FontBook(path)
        books[path] = book
    return book
