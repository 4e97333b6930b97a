"""A finished book as a picture-book PDF (fpdf2): A5 landscape, a cover with the title, the cover
picture and the characters, then one sheet per story page (picture left, text right) with its
page number; the font is embedded (subset), Hangul included for Korean books."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping

from fpdf import FPDF

from app.domain.finished import FinishedBook
from app.infrastructure.exports.fonts import font_for

WIDTH, HEIGHT = 210.0, 148.0  # A5 landscape, mm
MARGIN = 10.0
PICTURE = HEIGHT - 2 * MARGIN  # a square picture as tall as the page allows
FONT = "book"
# fontTools says which tables of the font it drops when it subsets it, once per export.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


def render_pdf(book: FinishedBook, pictures: Mapping[str, bytes]) -> bytes:
    pdf = FPDF(orientation="landscape", unit="mm", format=(HEIGHT, WIDTH))
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_font(FONT, fname=str(font_for(book.spec.language)))
    pdf.set_title(book.title.value)
    pdf.set_author("LittleWriter")
    pdf.set_lang(book.spec.language.value)
    pdf.set_creator("LittleWriter")
    _cover(pdf, book, pictures[book.cover_key])
    for page in book.pages:
        _page(pdf, page.number, page.text, pictures[page.image_key])
    return bytes(pdf.output())


def _sheet(pdf: FPDF, picture: bytes) -> tuple[float, float]:
    """A new sheet with its picture on the left; where the text column starts, and its width."""
    pdf.add_page()
    pdf.image(io.BytesIO(picture), x=MARGIN, y=MARGIN, w=PICTURE, h=PICTURE)
    text_x = MARGIN * 2 + PICTURE
    return text_x, WIDTH - text_x - MARGIN


def _cover(pdf: FPDF, book: FinishedBook, picture: bytes) -> None:
    text_x, column = _sheet(pdf, picture)
    pdf.set_xy(text_x, MARGIN + 10)
    pdf.set_font(FONT, size=22)
    pdf.multi_cell(column, 10, book.title.value, align="L")
    pdf.ln(6)
    pdf.set_font(FONT, size=11)
    for character in book.spec.characters:
        pdf.set_x(text_x)
        line = character.name
        if character.description:
            line += f": {character.description}"
        pdf.multi_cell(column, 6, line, align="L")
        pdf.ln(2)


def _page(pdf: FPDF, number: int, text: str, picture: bytes) -> None:
    text_x, column = _sheet(pdf, picture)
    pdf.set_xy(text_x, MARGIN + 6)
    pdf.set_font(FONT, size=12)
    pdf.multi_cell(column, 6.5, text, align="L")
    pdf.set_font(FONT, size=9)
    pdf.set_xy(text_x, HEIGHT - MARGIN - 5)
    pdf.cell(column, 5, str(number), align="R")
