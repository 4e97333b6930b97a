"""The owner reading a book of their shelf, in a real browser: "Read" on the shelf opens
/books/{id}/read, which shows the book with the reader's look and controls (every page's text and
picture, the PDF at the end) and makes no share link: the book stays private. A book that is not
theirs, and a reader signed out, get a clear message. Screenshots at 390 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.e2e.browsing import (
    Server,
    assert_no_serious_violation,
    cli_token,
    screenshot,
    watched,
)

PAGES = 2
PHONE = {"width": 390, "height": 844}


def finished_book(server: Server, user: str) -> dict[str, Any]:
    client, env = server
    auth = {"Authorization": f"Bearer {cli_token(env, user)}"}
    start = {"characters": [{"name": "Momo", "description": "a rabbit"}], "page_count": PAGES}
    assert client.post("/v1/books", json=start, headers=auth).status_code == 201
    for n in range(1, PAGES + 1):
        written = client.post("/v1/books/current/pages", json={"input": f"clue {n}"}, headers=auth)
        assert written.is_success
    finished = client.post("/v1/books/current/finish", json={"title": "Momo Reads"}, headers=auth)
    assert finished.is_success
    book: dict[str, Any] = finished.json()
    return book


def share_link_active(server: Server, book_id: str) -> bool:
    client, env = server
    admin = {"Authorization": f"Bearer {cli_token(env, 'owner-reader-admin', admin=True)}"}
    answer = client.get(f"/v1/admin/books/{book_id}", headers=admin)
    assert answer.status_code == 200, answer.text
    active: bool = answer.json()["share_link_active"]
    return active


# The browser notes the API's refusals in the console: the 404 of a book not one's own, and
# the creator's "no book in progress".
def expected_404(message: Any) -> bool:
    return "404" in message.text and "/v1/books/" in message.location.get("url", "")


def test_reading_from_the_shelf_shows_the_book_and_publishes_nothing(
    browser: Browser, server: Server
) -> None:
    user = "owner-reader"
    book = finished_book(server, user)
    base = str(server[0].base_url)
    context = browser.new_context(viewport=PHONE, accept_downloads=True)
    page = context.new_page()
    errors = watched(page, expected_404)
    page.goto(f"{base}/#token={cli_token(server[1], user)}")
    page.get_by_role("button", name=f"Read “{book['title']}”").click()
    page.wait_for_url(f"**/books/{book['id']}/read")

    expect(page.locator("#cover h1")).to_have_text(book["title"])
    assert page.locator("#cover img").evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "owner-reader-cover-390")
    assert_no_serious_violation(page)
    for number, story in enumerate(book["pages"], start=1):
        page.get_by_role("button", name="Next page").click()
        sheet = page.locator(f"#page-{number}")
        expect(sheet).to_be_visible()
        expect(sheet.locator(".text")).to_have_text(story["text"])
        picture = sheet.locator("img")
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
        )
        assert page.url.endswith(f"#page-{number}")
        expect(page.locator(".position")).to_have_text(f"Page {number} of {PAGES}")
    screenshot(page, "owner-reader-page-390")
    assert_no_serious_violation(page)

    page.keyboard.press("ArrowRight")
    expect(page.locator("#the-end")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download PDF").click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    screenshot(page, "owner-reader-end-390")
    assert_no_serious_violation(page)

    assert share_link_active(server, book["id"]) is False
    page.go_back()
    expect(page.locator(".shelf-book h3").first).to_have_text(book["title"])
    expect(page.locator(".shelf-book .shared input")).to_have_count(0)
    assert errors == []
    context.close()


def test_a_book_not_ones_own_or_signed_out_gets_a_clear_message(
    browser: Browser, server: Server
) -> None:
    book = finished_book(server, "owner-reader-sister")
    base = str(server[0].base_url)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors = watched(page, expected_404)

    page.goto(f"{base}/books/{book['id']}/read")
    expect(page.locator("#message-text")).to_have_text(
        "Sign in on the home page to read the books of your shelf."
    )
    assert_no_serious_violation(page)

    page.goto(f"{base}/#token={cli_token(server[1], 'owner-reader-brother')}")
    expect(page.locator("#account-user")).to_have_text("owner-reader-brother")
    page.goto(f"{base}/books/{book['id']}/read")
    expect(page.locator("#message-text")).to_contain_text("This book is not on your shelf")
    screenshot(page, "owner-reader-not-found-390")
    assert_no_serious_violation(page)
    assert share_link_active(server, book["id"]) is False
    assert errors == []
    context.close()
