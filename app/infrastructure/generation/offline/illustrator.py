"""Pillow illustrator: draws the cover and every page offline, with no network and no key.

The default when no AI key is configured. Each picture has a sky and ground themed by the words of
the scene and the setting (sea, forest, snow, space, else a meadow; night when the scene says so),
with colours drawn from the book's content and the page number, a round figure per character with a
colour and hat from its name, the characters' names, the page number and the scene in a caption; the
cover shows the names as a title over the setting. The same request always gives the same PNG.

Text and fonts: Pillow's built-in font has no Hangul, so a CJK-capable TrueType font is looked for
at well-known paths (`CJK_FONT_CANDIDATES`; the constructor takes other paths). Without one, the
characters the font cannot draw are left out rather than drawn as tofu boxes, so Korean names and
scenes are skipped while the figures, colours and page number are still drawn (see `fonts.py`).

Drawing is CPU-bound, so it runs in a worker thread (`asyncio.to_thread`) and never blocks the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from app.application.errors import GenerationFailed
from app.application.ports.generation import IllustrationRequest, Illustrator, Image
from app.infrastructure.generation.offline.fonts import (
    CJK_FONT_CANDIDATES,
    find_cjk_font,
    font_book,
)
from app.infrastructure.generation.offline.picture import render_png

WIDTH, HEIGHT = 768, 512


class PillowIllustrator(Illustrator):
    def __init__(self, font_candidates: Iterable[str | Path] = CJK_FONT_CANDIDATES) -> None:
        self._font_path = find_cjk_font(font_candidates)

    @property
    def font_path(self) -> Path | None:
        """The CJK-capable font in use, or None when only the built-in Latin font is available."""
        return self._font_path

    async def draw(self, request: IllustrationRequest) -> Image:
        try:
            data = await asyncio.to_thread(_draw, request, self._font_path)
            return Image(data=data, content_type="image/png")
        except Exception as error:
            raise GenerationFailed(f"the offline illustrator failed: {error}") from error


def _draw(request: IllustrationRequest, font_path: Path | None) -> bytes:
    return render_png(request, font_book(font_path), (WIDTH, HEIGHT))
