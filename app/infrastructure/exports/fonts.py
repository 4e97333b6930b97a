"""The TrueType font an export embeds: one that has every glyph of the book's language, looked
for at the paths Debian's packages (fonts-nanum, fonts-dejavu-core), macOS and Windows use.
A Korean book needs Hangul: `apt-get install fonts-nanum` on Debian (the Dockerfile and CI do)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from app.application.errors import ExportUnavailable
from app.domain.values import Language

_HANGUL_FONTS = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/nanum/NanumGothic.ttf",
    "/Library/Fonts/NanumGothic.ttf",
    "C:/Windows/Fonts/malgun.ttf",
)
_LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
    *_HANGUL_FONTS,  # Nanum Gothic has Latin letters too
)


@cache
def font_for(language: Language) -> Path:
    candidates = _HANGUL_FONTS if language is Language.KO else _LATIN_FONTS
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    needed = "a Hangul font (fonts-nanum)" if language is Language.KO else "DejaVu Sans"
    raise ExportUnavailable(f"this server has no font to export the book: install {needed}")
