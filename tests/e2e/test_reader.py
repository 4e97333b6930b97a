"""The web reader in a real browser: Debian's Chromium driven by Playwright, a real
`littlewriter serve` on embedded defaults. A shared book opens on its cover, every page turns by
the keyboard and by the button with its picture loaded and its text shown, a reload stays on
its page, a Korean book is `lang="ko"` with its Hangul shown, axe-core finds no serious
violation, and a taken-back link shows the 404 page; no console error anywhere. Screenshots of
the cover and a page at 390 px and 1280 px go to test-results/screenshots/."""

from __future__ import annotations

import io
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from pypdf import PdfReader

from tests.e2e.browsing import (
    SCREENSHOTS,
    Server,
    assert_no_serious_violation,
    cli_token,
    watched,
)

PAGES = 3


def token_for(env: dict[str, str], user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {cli_token(env, user)}"}


def shared_book(server: Server, user: str, language: str = "en") -> tuple[dict[str, Any], str]:
    client, env = server
    auth = token_for(env, user)
    name = "모모" if language == "ko" else "Momo"
    book = {
        "characters": [{"name": name, "description": ""}],
        "page_count": PAGES,
        "language": language,
        "setting": "a snowy forest",
    }
    assert client.post("/v1/books", json=book, headers=auth).status_code == 201
    ideas = ["모모가 지도를 찾아요", "모모가 강을 건너요", "모모가 집에 가요"]
    for n in range(PAGES):
        idea = ideas[n] if language == "ko" else f"Momo finds clue number {n + 1}"
        assert client.post("/v1/books/current/pages", json={"input": idea}, headers=auth).is_success
    title = "모모의 지도" if language == "ko" else "Momo's Map"
    finished = client.post("/v1/books/current/finish", json={"title": title}, headers=auth)
    link = client.post(f"/v1/books/{finished.json()['id']}/share", json={}, headers=auth).json()
    return finished.json(), link["url"]


def current_sheet(page: Page) -> str:
    return page.locator(".sheet.current").get_attribute("id") or ""


def assert_sheet_shows_its_page(page: Page, number: int, text: str) -> None:
    sheet = page.locator(f"#page-{number}")
    assert sheet.is_visible()
    assert sheet.locator(".text").inner_text().strip() == text.strip()
    loaded = sheet.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert loaded, f"the picture of page {number} did not load"


@pytest.mark.parametrize("width", [390, 1280])
def test_a_shared_book_reads_page_by_page(browser: Browser, server: Server, width: int) -> None:
    book, url = shared_book(server, f"reader-{width}")
    page = browser.new_page(viewport={"width": width, "height": 844 if width == 390 else 800})
    errors = watched(page)
    page.goto(url)
    assert current_sheet(page) == "cover"
    assert page.locator("h1").inner_text() == book["title"]
    assert page.locator("#cover img").evaluate("img => img.naturalWidth > 0")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"reader-cover-{width}.png")

    for number, story in enumerate(book["pages"], start=1):  # by the keyboard
        page.keyboard.press("ArrowRight")
        assert current_sheet(page) == f"page-{number}"
        assert_sheet_shows_its_page(page, number, story["text"])
        assert page.url.endswith(f"#page-{number}")
        if number == 2:
            page.screenshot(path=SCREENSHOTS / f"reader-page-{width}.png")
    page.keyboard.press("ArrowRight")
    assert current_sheet(page) == "the-end"
    assert page.get_by_role("link", name="Download PDF").is_visible()
    for _ in range(PAGES + 1):
        page.get_by_role("button", name="Previous page").click()
    assert current_sheet(page) == "cover"
    for number in range(1, PAGES + 1):  # and by the button
        page.get_by_role("button", name="Next page").click()
        assert_sheet_shows_its_page(page, number, book["pages"][number - 1]["text"])

    page.goto(url + "#page-3")
    page.reload()
    assert current_sheet(page) == "page-3"
    assert errors == []


def test_a_korean_book_is_lang_ko_with_its_hangul_shown(browser: Browser, server: Server) -> None:
    book, url = shared_book(server, "reader-ko", language="ko")
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors = watched(page)
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("h1").inner_text() == "모모의 지도"
    page.keyboard.press("ArrowRight")
    assert_sheet_shows_its_page(page, 1, book["pages"][0]["text"])
    assert page.get_by_role("button", name="다음 페이지").is_visible()
    assert errors == []


def test_the_reader_has_no_serious_accessibility_violation(
    browser: Browser, server: Server
) -> None:
    _, url = shared_book(server, "reader-axe")
    page = browser.new_page(viewport={"width": 390, "height": 844})
    for where in ("", "#page-1", "#the-end"):
        page.goto(url + where)
        page.reload()
        assert_no_serious_violation(page)


def test_without_javascript_every_page_is_on_one_scrollable_page(
    browser: Browser, server: Server
) -> None:
    book, url = shared_book(server, "reader-nojs")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(url)
    assert page.locator(".sheet").count() == PAGES + 2
    for number, story in enumerate(book["pages"], start=1):
        assert page.locator(f"#page-{number} .text").inner_text() == story["text"]
    assert page.locator(".controls").is_hidden()
    context.close()


def test_a_taken_back_link_shows_the_404_page(browser: Browser, server: Server) -> None:
    client, env = server
    book, url = shared_book(server, "reader-gone")
    client.delete(f"/v1/books/{book['id']}/share", headers=token_for(env, "reader-gone"))
    page = browser.new_page()
    errors = watched(page)
    response = page.goto(url)
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "This book is not here"
    # The browser reports the page's own 404 as a failed load; nothing else may fail.
    assert [e for e in errors if "status of 404" not in e] == []


def test_printing_gives_a_sheet_of_paper_per_page(browser: Browser, server: Server) -> None:
    _, url = shared_book(server, "reader-print")
    page = browser.new_page()
    page.goto(url)
    printed = PdfReader(io.BytesIO(page.pdf(format="A5", landscape=True)))
    assert len(printed.pages) == PAGES + 2  # the cover, each page, the end


def test_reading_aloud_stops_when_the_page_turns(browser: Browser, server: Server) -> None:
    _, url = shared_book(server, "reader-aloud")
    page = browser.new_page()
    errors = watched(page)
    page.goto(url + "#page-1")
    page.reload()
    read_aloud = page.get_by_role("button", name="Read aloud")
    read_aloud.click()
    sentences = page.locator("#page-1 .text span")
    assert sentences.count() >= 1  # the page's text, split into sentences to mark
    page.keyboard.press("ArrowRight")
    assert page.locator(".reading").count() == 0
    assert read_aloud.get_attribute("aria-pressed") == "false"
    assert errors == []
