"""A finished book as an EPUB 3 (EbookLib): a cover, one XHTML page per story page with its
picture (alt text from the page), a navigation document, and the metadata: title, language,
creator "LittleWriter", identifier the book's id. Checked with epubcheck in the tests."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping

from ebooklib import epub

from app.domain.finished import FinishedBook

_STYLE = """body { margin: 0; padding: 0.5em; font-family: sans-serif; }
img { display: block; max-width: 100%; max-height: 70vh; margin: 0 auto; }
p { font-size: 1.2em; line-height: 1.5; }
.number { text-align: right; font-size: 0.8em; color: #555; }"""


def render_epub(book: FinishedBook, pictures: Mapping[str, bytes]) -> bytes:
    language = book.spec.language.value
    document = epub.EpubBook()
    document.set_identifier(f"urn:uuid:{book.id}")
    document.set_title(book.title.value)
    document.set_language(language)
    document.add_author("LittleWriter")
    document.set_cover("images/cover.png", pictures[book.cover_key], create_page=True)
    style = epub.EpubItem(
        uid="style", file_name="style.css", media_type="text/css", content=_STYLE.encode()
    )
    document.add_item(style)
    chapters = []
    for page in book.pages:
        name = f"images/page-{page.number}.png"
        document.add_item(
            epub.EpubImage(
                uid=f"image-{page.number}",
                file_name=name,
                media_type="image/png",
                content=pictures[page.image_key],
            )
        )
        chapter = epub.EpubHtml(
            title=f"{page.number}",
            file_name=f"page-{page.number}.xhtml",
            lang=language,
        )
        text = html.escape(page.text)
        chapter.content = (
            f'<img src="{name}" alt="{text}"/><p>{text}</p><p class="number">{page.number}</p>'
        )
        chapter.add_item(style)
        document.add_item(chapter)
        chapters.append(chapter)
    document.toc = chapters
    document.add_item(epub.EpubNcx())
    document.add_item(epub.EpubNav())
    document.spine = ["cover", "nav", *chapters]
    out = io.BytesIO()
    epub.write_epub(out, document)
    return out.getvalue()
