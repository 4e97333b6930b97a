"""Compose one picture (cover or page) and encode it as PNG. Pure CPU work: call it off the loop."""

from __future__ import annotations

import io

from PIL import Image as PILImage
from PIL import ImageDraw

from app.application.ports.generation import IllustrationKind, IllustrationRequest
from app.infrastructure.generation.offline.figures import character_colours, draw_figure
from app.infrastructure.generation.offline.fonts import FontBook
from app.infrastructure.generation.offline.language import digest
from app.infrastructure.generation.offline.scenery import RGB, mood_of, paint

_INK: RGB = (60, 45, 50)
_PAPER: RGB = (255, 252, 242)
_MARGIN = 20
# zlib level 1 is several times faster than the default 6 and the picture is mostly flat colour.
_PNG_COMPRESSION = 1


def render_png(request: IllustrationRequest, fonts: FontBook, size: tuple[int, int]) -> bytes:
    spec = request.context.spec
    names = [character.name for character in spec.characters]
    cover = request.kind is IllustrationKind.COVER
    page = 0 if cover else request.page_number or request.context.next_page_number
    seed = digest(spec.language, spec.setting, spec.page_count, *names, page, request.scene)

    image = PILImage.new("RGB", size, _PAPER)
    draw = ImageDraw.Draw(image)
    paint(draw, size, seed, mood_of(request.scene, spec.setting))
    _cast(draw, fonts, size, names, page)
    if cover:
        _cover_titles(draw, fonts, size, names, request.scene)
    else:
        _caption(draw, fonts, size, request.scene)
        _page_badge(draw, fonts, size, page)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=_PNG_COMPRESSION)
    return buffer.getvalue()


def _cast(
    draw: ImageDraw.ImageDraw, fonts: FontBook, size: tuple[int, int], names: list[str], page: int
) -> None:
    width, height = size
    radius = 46 if len(names) <= 3 else 36
    base = height - 52
    colours = character_colours(names)
    for index, name in enumerate(names):
        x = width * (index + 1) / (len(names) + 1)
        pose = digest("pose", name, page)[0]
        draw_figure(draw, name, colours[index], (x, base), radius, pose)
        label = fonts.drawable(name)
        if label:
            font = fonts.get(18)
            left, top, right, bottom = draw.textbbox((x, base + 22), label, font=font, anchor="mm")
            draw.rounded_rectangle(
                (left - 8, top - 4, right + 8, bottom + 4),
                radius=8,
                fill=_PAPER,
                outline=colours[index],
                width=2,
            )
            draw.text((x, base + 22), label, font=font, fill=_INK, anchor="mm")


def _caption(draw: ImageDraw.ImageDraw, fonts: FontBook, size: tuple[int, int], scene: str) -> None:
    width = size[0]
    text = fonts.drawable(scene)
    if not text:
        return
    text_size = 22
    lines = fonts.wrap(text, text_size, width - 2 * _MARGIN - 110, max_lines=3)
    line_height = text_size + 8
    box = (_MARGIN, _MARGIN, width - _MARGIN - 70, _MARGIN + 20 + line_height * len(lines))
    draw.rounded_rectangle(box, radius=14, fill=_PAPER, outline=(200, 185, 160), width=2)
    font = fonts.get(text_size)
    for row, line in enumerate(lines):
        draw.text((_MARGIN + 16, _MARGIN + 10 + row * line_height), line, font=font, fill=_INK)


def _page_badge(
    draw: ImageDraw.ImageDraw, fonts: FontBook, size: tuple[int, int], page: int
) -> None:
    x, y, r = size[0] - _MARGIN - 28, _MARGIN + 28, 28
    draw.ellipse((x - r, y - r, x + r, y + r), fill=_PAPER, outline=_INK, width=3)
    draw.text((x, y), str(page), font=fonts.get(26), fill=_INK, anchor="mm")


def _cover_titles(
    draw: ImageDraw.ImageDraw,
    fonts: FontBook,
    size: tuple[int, int],
    names: list[str],
    setting: str,
) -> None:
    width, height = size
    draw.rectangle((4, 4, width - 5, height - 5), outline=(170, 120, 80), width=8)
    title = fonts.drawable(
        ", ".join(names[:-1]) + " & " + names[-1] if len(names) > 1 else names[0]
    )
    subtitle_lines = fonts.wrap(fonts.drawable(setting), 22, width - 160, max_lines=2)
    if title or subtitle_lines:
        title_lines = fonts.wrap(title, 44, width - 160, max_lines=2) if title else []
        box_height = 28 + 54 * len(title_lines) + 30 * len(subtitle_lines)
        draw.rounded_rectangle(
            (60, 36, width - 60, 36 + box_height),
            radius=22,
            fill=_PAPER,
            outline=(170, 120, 80),
            width=4,
        )
        y = 50
        for line in title_lines:
            draw.text((width / 2, y), line, font=fonts.get(44), fill=_INK, anchor="ma")
            y += 54
        for line in subtitle_lines:
            draw.text((width / 2, y), line, font=fonts.get(22), fill=(110, 90, 80), anchor="ma")
            y += 30
    draw.text(
        (width - 24, height - 20), "LittleWriter", font=fonts.get(14), fill=_PAPER, anchor="rs"
    )
