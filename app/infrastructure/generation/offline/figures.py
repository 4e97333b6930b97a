"""The characters: a round figure each, coloured and dressed by its name, posed by the page."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import ImageDraw

from app.infrastructure.generation.offline.language import digest
from app.infrastructure.generation.offline.scenery import RGB, hls

_INK: RGB = (60, 45, 50)
_WHITE: RGB = (255, 255, 255)


_MIN_HUE_GAP = 0.09


def character_colours(names: Sequence[str]) -> list[RGB]:
    """A colour per character from its name, nudged round the colour wheel away from look-alikes."""
    hues: list[float] = []
    for name in names:
        hue = digest("colour", name)[0] / 255
        for _ in range(12):
            if all(min(abs(hue - h), 1 - abs(hue - h)) >= _MIN_HUE_GAP for h in hues):
                break
            hue = (hue + _MIN_HUE_GAP * 1.5) % 1.0
        hues.append(hue)
    return [hls(hue, 0.6, 0.65) for hue in hues]


def draw_figure(
    draw: ImageDraw.ImageDraw,
    name: str,
    body: RGB,
    position: tuple[float, float],
    radius: float,
    pose: int,
) -> None:
    """A figure standing with its feet at `position`; the same name always gets the same hat."""
    look = digest("look", name)
    x, base = position
    dark = hls(look[0] / 255, 0.35, 0.6)
    r = radius
    cy = base - r - 8 - (pose % 3) * 4  # a little hop on some pages
    for side in (-1, 1):
        draw.ellipse(
            (x + side * r * 0.45 - 12, base - 12, x + side * r * 0.45 + 12, base), fill=dark
        )
        arm_y = cy - (r * 0.5 if (pose + side) % 4 == 0 else 0)  # a wave now and then
        draw.ellipse(
            (x + side * r - 10, arm_y - 8, x + side * r + 10, arm_y + 14), fill=body, outline=dark
        )
    _headwear(draw, look[1] % 5, x, cy, r, dark, body)
    draw.ellipse((x - r, cy - r, x + r, cy + r), fill=body, outline=dark, width=3)
    _face(draw, x, cy, r, pose)


def _face(draw: ImageDraw.ImageDraw, x: float, cy: float, r: float, pose: int) -> None:
    glance = (pose % 3 - 1) * 3
    for side in (-1, 1):
        ex, ey = x + side * r * 0.35, cy - r * 0.15
        draw.ellipse((ex - 9, ey - 10, ex + 9, ey + 10), fill=_WHITE)
        draw.ellipse((ex + glance - 4, ey - 4, ex + glance + 4, ey + 5), fill=_INK)
        cx = x + side * r * 0.58
        draw.ellipse((cx - 8, cy + r * 0.2 - 5, cx + 8, cy + r * 0.2 + 5), fill=(255, 170, 170))
    draw.arc((x - r * 0.3, cy + r * 0.05, x + r * 0.3, cy + r * 0.45), 20, 160, fill=_INK, width=3)


def _headwear(
    draw: ImageDraw.ImageDraw, kind: int, x: float, cy: float, r: float, dark: RGB, body: RGB
) -> None:
    top = cy - r
    if kind == 0:  # cat ears
        for side in (-1, 1):
            draw.polygon(
                [
                    (x + side * r * 0.25, top + 8),
                    (x + side * r * 0.8, top - 18),
                    (x + side * r * 0.85, top + 22),
                ],
                fill=body,
                outline=dark,
            )
    elif kind == 1:  # bunny ears
        for side in (-1, 1):
            ex = x + side * r * 0.4
            draw.ellipse((ex - 9, top - 40, ex + 9, top + 12), fill=body, outline=dark, width=2)
    elif kind == 2:  # antenna
        draw.line((x, top, x, top - 24), fill=dark, width=3)
        draw.ellipse((x - 7, top - 32, x + 7, top - 18), fill=(255, 210, 80))
    elif kind == 3:  # bear ears
        for side in (-1, 1):
            ex = x + side * r * 0.65
            draw.ellipse((ex - 14, top - 8, ex + 14, top + 20), fill=body, outline=dark, width=2)
    else:  # party hat
        draw.polygon([(x, top - 36), (x - 18, top + 8), (x + 18, top + 8)], fill=dark)
        draw.ellipse((x - 6, top - 42, x + 6, top - 30), fill=(255, 230, 120))
