"""The background of a picture: sky, sun or moon, clouds or stars, and the ground.

Words in the scene or the setting pick a theme (sea, forest, snow, space, else a meadow) and day or
night; the book's content and the page number pick the hues and where things stand, so every page
of a book looks related but different.
"""

from __future__ import annotations

import colorsys
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from PIL import ImageDraw

RGB = tuple[int, int, int]


class Theme(StrEnum):
    MEADOW = "meadow"
    FOREST = "forest"
    SEA = "sea"
    SNOW = "snow"
    SPACE = "space"


def _words(english: str, korean: str) -> re.Pattern[str]:
    whole_words = "|".join(english.split())
    return re.compile(rf"\b(?:{whole_words})(?:s|es)?\b|{'|'.join(korean.split())}", re.IGNORECASE)


# Korean words are matched inside longer words, so they avoid short roots (별 is in 특별).
_THEME_WORDS: tuple[tuple[Theme, re.Pattern[str]], ...] = (
    (
        Theme.SPACE,
        _words("space planet rocket galaxy astronaut alien", "우주 행성 로켓 은하 외계인 별나라"),
    ),
    (
        Theme.SEA,
        _words("sea ocean beach wave fish island underwater", "바다 해변 파도 물고기 섬에"),
    ),
    (
        Theme.SNOW,
        _words("snow winter ice frozen penguin snowman", "겨울 얼음 펭귄 눈사람 눈이 눈밭"),
    ),
    (Theme.FOREST, _words("forest wood woods tree jungle", "숲 나무 정글")),
)
_NIGHT_WORDS = _words(
    "night dark moon sleep dream star bedtime", "밤 어둠 달님 달빛 잠들 잠을 꿈 별빛 별님"
)


@dataclass(frozen=True, slots=True)
class Mood:
    theme: Theme
    night: bool


def mood_of(scene: str, setting: str) -> Mood:
    theme = next(
        (theme for text in (scene, setting) for theme, words in _THEME_WORDS if words.search(text)),
        Theme.MEADOW,
    )
    night = theme is Theme.SPACE or bool(_NIGHT_WORDS.search(scene))
    return Mood(theme, night)


def hls(hue: float, lightness: float, saturation: float) -> RGB:
    red, green, blue = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def paint(draw: ImageDraw.ImageDraw, size: tuple[int, int], seed: bytes, mood: Mood) -> int:
    """Paint sky and ground; returns the horizon's height."""
    width, height = size
    horizon = int(height * (0.56 + seed[0] / 255 * 0.08))
    shift = seed[1] / 255 * 0.12 - 0.06
    if mood.night:
        top, bottom = hls(0.66 + shift, 0.12, 0.6), hls(0.74 + shift, 0.32, 0.45)
    elif seed[2] % 5 == 0:
        top, bottom = hls(0.62 + shift, 0.55, 0.55), hls(0.06 + shift, 0.78, 0.9)
    else:
        top, bottom = hls(0.58 + shift, 0.6, 0.7), hls(0.55 + shift, 0.88, 0.6)
    for y in range(0, horizon + 40, 2):
        draw.rectangle((0, y, width, y + 1), fill=_mix(top, bottom, y / (horizon + 40)))
    if mood.night:
        _stars(draw, width, horizon, seed)
        _moon(draw, width, seed, lambda y: _mix(top, bottom, y / (horizon + 40)))
    else:
        _sun(draw, width, seed)
        _clouds(draw, width, seed)
    _ground(draw, size, horizon, seed, mood.theme)
    return horizon


def _sun(draw: ImageDraw.ImageDraw, width: int, seed: bytes) -> None:
    x, y, r = 90 + seed[3] / 255 * (width - 180), 150 + seed[4] % 40, 34
    for i in range(12):
        angle = i * math.pi / 6 + seed[5] / 255
        inner, outer = r + 8, r + 22
        draw.line(
            (
                x + inner * math.cos(angle),
                y + inner * math.sin(angle),
                x + outer * math.cos(angle),
                y + outer * math.sin(angle),
            ),
            fill=(255, 214, 90),
            width=4,
        )
    draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 220, 80), outline=(250, 180, 60), width=3)


def _moon(
    draw: ImageDraw.ImageDraw, width: int, seed: bytes, sky_at: Callable[[float], RGB]
) -> None:
    x, y, r = 90 + seed[3] / 255 * (width - 180), 150 + seed[4] % 40, 32
    draw.ellipse((x - r, y - r, x + r, y + r), fill=(250, 244, 200))
    # A disc of sky over most of the moon leaves a crescent.
    draw.ellipse((x - r + 14, y - r - 6, x + r + 14, y + r - 6), fill=sky_at(y - 6))


def _stars(draw: ImageDraw.ImageDraw, width: int, horizon: int, seed: bytes) -> None:
    for i in range(28):
        x = (seed[i % 32] * 37 + i * 101) % width
        y = 10 + (seed[(i * 7) % 32] * 13 + i * 53) % max(horizon - 20, 20)
        r = 1 + (seed[(i * 3) % 32] % 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 250, 220))


def _clouds(draw: ImageDraw.ImageDraw, width: int, seed: bytes) -> None:
    for i in range(3):
        x = (seed[6 + i] / 255 * 0.8 + 0.1) * width
        y = 140 + seed[9 + i] % 70
        for dx, dy, r in ((-34, 6, 22), (0, -6, 30), (34, 4, 24), (12, 12, 22)):
            draw.ellipse((x + dx - r, y + dy - r, x + dx + r, y + dy + r), fill=(255, 255, 255))


def _hill(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], base: float, amp: float, phase: float, c: RGB
) -> None:
    width, height = size
    points = [
        (x, base + amp * math.sin(x / width * 2 * math.pi * 1.3 + phase))
        for x in range(0, width + 16, 16)
    ]
    draw.polygon([*points, (width, height), (0, height)], fill=c)


def _ground(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], horizon: int, seed: bytes, theme: Theme
) -> None:
    width, height = size
    phase = seed[12] / 255 * math.tau
    hue = 0.26 + seed[13] / 255 * 0.1
    if theme is Theme.SEA:
        draw.rectangle((0, horizon, width, height), fill=hls(0.56, 0.45, 0.7))
        for row in range(horizon + 14, height - 90, 18):
            for x in range(-20 + (row * 7) % 40, width, 40):
                draw.arc((x, row, x + 30, row + 12), 200, 340, fill=(220, 240, 255), width=2)
        _hill(draw, size, height - 80, 8, phase, (240, 214, 160))
    elif theme is Theme.SNOW:
        _hill(draw, size, horizon, 18, phase, (226, 236, 248))
        _hill(draw, size, horizon + 50, 12, phase + 2, (250, 252, 255))
    elif theme is Theme.SPACE:
        _hill(draw, size, horizon + 30, 14, phase, (150, 140, 170))
        for i in range(5):
            x, y = (seed[14 + i] * 3 + i * 150) % width, horizon + 70 + (seed[19 + i] % 90)
            draw.ellipse((x - 22, y - 8, x + 22, y + 8), fill=(120, 110, 145))
    else:
        _hill(draw, size, horizon, 22, phase, hls(hue, 0.55, 0.45))
        _hill(draw, size, horizon + 45, 14, phase + 2.1, hls(hue + 0.02, 0.45, 0.5))
        if theme is Theme.FOREST:
            _trees(draw, width, horizon, seed)
        else:
            _flowers(draw, size, horizon, seed)


def _trees(draw: ImageDraw.ImageDraw, width: int, horizon: int, seed: bytes) -> None:
    for i in range(7):
        x = (i + 0.5) * width / 7 + (seed[20 + i] % 30 - 15)
        top = horizon - 70 - seed[24 + (i % 8)] % 40
        draw.rectangle((x - 6, top + 50, x + 6, horizon + 20), fill=(120, 80, 50))
        draw.polygon(
            [(x, top), (x - 34, top + 70), (x + 34, top + 70)],
            fill=hls(0.33, 0.3 + i % 3 * 0.05, 0.5),
        )


def _flowers(draw: ImageDraw.ImageDraw, size: tuple[int, int], horizon: int, seed: bytes) -> None:
    width, height = size
    for i in range(14):
        x = (seed[(i * 5) % 32] * 7 + i * 97) % width
        y = horizon + 40 + (seed[(i * 11) % 32] * 5 + i * 31) % max(height - horizon - 60, 1)
        colour = hls(seed[(i * 3) % 32] / 255, 0.7, 0.8)
        draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=colour)
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(255, 230, 120))
