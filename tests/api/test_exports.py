"""Exports over HTTP, the real PDF and EPUB makers: the owner's and the share link's; the PDF has
a cover and a sheet per page, every page's text (Hangul included) and its fonts embedded; the
EPUB passes epubcheck (Debian's package, run with Java) with no error and no warning."""

from __future__ import annotations

import asyncio
import io
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pypdf import PdfReader

from tests.api.conftest import assert_problem, auth, finished_book, start, write
from tests.integration.services import installed

EPUBCHECK = "/usr/share/java/epubcheck.jar"
HANGUL_FONT = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"


async def korean_book(client: httpx.AsyncClient) -> dict[str, Any]:
    installed(HANGUL_FONT, "fonts-nanum")  # its exports need a Hangul font
    await start(
        client,
        page_count=2,
        language="ko",
        characters=[{"name": "모모", "description": "용감한 토끼"}],
    )
    for idea in ("모모가 반짝이는 지도를 찾아요", "모모가 집으로 돌아가요"):
        assert (await write(client, idea)).status_code == 200
    finished = await client.post(
        "/v1/books/current/finish", json={"title": "모모의 지도"}, headers=auth()
    )
    assert finished.status_code == 201, finished.text
    body: dict[str, Any] = finished.json()
    return body


def embedded_fonts(reader: PdfReader) -> set[tuple[str, bool]]:
    found = set()
    for page in reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            described = (descendants[0].get_object() if descendants else font)["/FontDescriptor"]
            has_file = any(k in described.get_object() for k in ("/FontFile", "/FontFile2"))
            found.add((str(font["/BaseFont"]), has_file))
    return found


@pytest.mark.parametrize("language", ["en", "ko"])
async def test_the_pdf_is_a_cover_and_a_sheet_per_page_with_every_text_and_its_fonts(
    client: httpx.AsyncClient, language: str
) -> None:
    book = await korean_book(client) if language == "ko" else await finished_book(client)
    response = await client.get(f"/v1/books/{book['id']}/export?format=pdf", headers=auth())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == book["page_count"] + 1
    assert book["title"] in reader.pages[0].extract_text()
    for page, sheet in zip(book["pages"], reader.pages[1:], strict=True):
        # The whole text of the page on its sheet (line breaks fall where the column ends).
        assert "".join(page["text"].split()) in "".join(sheet.extract_text().split())
    fonts = embedded_fonts(reader)
    assert fonts and all(embedded for _, embedded in fonts), fonts


async def test_a_non_ascii_title_is_named_by_rfc_6266(client: httpx.AsyncClient) -> None:
    book = await korean_book(client)
    response = await client.get(f"/v1/books/{book['id']}/export?format=epub", headers=auth())
    assert response.headers["content-type"] == "application/epub+zip"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert f"filename*=UTF-8''{quote('모모의 지도.epub', safe='')}" in disposition


async def test_an_ascii_title_is_named_as_it_is(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, title="Momo's Map", pages=1)
    response = await client.get(f"/v1/books/{book['id']}/export?format=pdf", headers=auth())
    assert response.headers["content-disposition"] == 'attachment; filename="Momo\'s Map.pdf"'


@pytest.mark.parametrize("language", ["en", "ko"])
async def test_the_epub_passes_epubcheck(
    client: httpx.AsyncClient, tmp_path: Path, language: str
) -> None:
    book = await korean_book(client) if language == "ko" else await finished_book(client)
    response = await client.get(f"/v1/books/{book['id']}/export?format=epub", headers=auth())
    path = tmp_path / "book.epub"
    path.write_bytes(response.content)
    checked = await asyncio.create_subprocess_exec(
        "java", "-jar", installed(EPUBCHECK, "epubcheck"), str(path), stdout=PIPE, stderr=STDOUT
    )
    output, _ = await asyncio.wait_for(checked.communicate(), 120)
    report = output.decode()
    assert checked.returncode == 0, report
    assert "Messages: 0 fatals / 0 errors / 0 warnings" in report, report


async def test_the_second_export_is_the_kept_file(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, pages=1)
    url = f"/v1/books/{book['id']}/export?format=pdf"
    first = await client.get(url, headers=auth())
    second = await client.get(url, headers=auth())
    assert first.content == second.content  # a new PDF would carry a new creation time


async def test_a_shared_book_exports_by_its_link_and_not_after(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, pages=1)
    token = (await client.post(f"/v1/books/{book['id']}/share", json={}, headers=auth())).json()[
        "token"
    ]
    shared = await client.get(f"/v1/shared/{token}/export?format=epub")
    assert shared.status_code == 200 and shared.content.startswith(b"PK")
    await client.delete(f"/v1/books/{book['id']}/share", headers=auth())
    gone = await client.get(f"/v1/shared/{token}/export?format=epub")
    assert_problem(gone, 404, "book_not_found")


@pytest.mark.parametrize("query", ["?format=docx", "?format=", "", "?format=PDF"])
async def test_another_format_is_422(client: httpx.AsyncClient, query: str) -> None:
    book = await finished_book(client, pages=1)
    response = await client.get(f"/v1/books/{book['id']}/export{query}", headers=auth())
    assert_problem(response, 422, "validation_error")


async def test_only_the_owner_exports(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, pages=1)
    theirs = await client.get(f"/v1/books/{book['id']}/export?format=pdf", headers=auth("bob"))
    assert_problem(theirs, 404, "book_not_found")
