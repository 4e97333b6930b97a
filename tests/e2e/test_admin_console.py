"""The admin console (`GET /admin`) in a real browser: Debian's Chromium driven by Playwright, a
real `littlewriter serve` on embedded defaults, tokens from `littlewriter token`. An admin finds
a user's book in progress in the list, opens it with its page and picture, force-finishes it
with a title, finds it among the finished books with its cost and in the day's totals, takes it
down (keyboard only, after a confirmation), and sees both actions in the audit log; a user's
token gets "admins only" and no data; signed out, the page says how to sign in. At 390 px and
1280 px, no console error, axe-core finds no serious violation on any screen, and screenshots
go to test-results/screenshots/admin-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.e2e.browsing import (
    Server,
    assert_no_serious_violation,
    cli_token,
    screenshot,
    watched,
)

PAGES = 3


def book_in_progress(server: Server, user: str) -> dict[str, Any]:
    """A user's book over the API: started, with one page of three written."""
    client, env = server
    auth = {"Authorization": f"Bearer {cli_token(env, user)}"}
    start = {"characters": [{"name": "Momo", "description": ""}], "page_count": PAGES}
    assert client.post("/v1/books", json=start, headers=auth).status_code == 201
    page = client.post("/v1/books/current/pages", json={"input": "Momo finds a map"}, headers=auth)
    assert page.status_code == 200
    book: dict[str, Any] = page.json()
    return book


def open_console(browser: Browser, server: Server, width: int, token: str | None) -> Page:
    client, _ = server
    page = browser.new_page(viewport={"width": width, "height": 844 if width == 390 else 800})
    page.goto(f"{client.base_url}/admin" + (f"#token={token}" if token else ""))
    return page


def confirm_by_keyboard(page: Page, label: str) -> None:
    """The confirmation dialog opens on Cancel, the safe answer; Tab then Enter confirms."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name=label)).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_have_count(0)


@pytest.mark.parametrize("width", [390, 1280])
def test_an_admin_force_finishes_a_book_then_takes_it_down(
    browser: Browser, server: Server, width: int
) -> None:
    client, env = server
    user, admin = f"child-{width}", f"admin-{width}"
    book = book_in_progress(server, user)
    admin_token = cli_token(env, admin, admin=True)
    page = open_console(browser, server, width, admin_token)
    errors = watched(page)

    # The list of books in progress, filtered to the user's.
    expect(page.get_by_role("heading", name="Books in progress")).to_be_visible()
    assert "#token" not in page.url
    filters = page.locator("#in-progress-filter")
    filters.get_by_label("State").select_option("bookInProgress")
    filters.get_by_label("User").fill(user)
    filters.get_by_label("User").press("Enter")
    rows = page.locator("#in-progress-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(user)
    expect(rows.first).to_contain_text(f"1 of {PAGES}")
    assert_no_serious_violation(page)
    screenshot(page, f"admin-in-progress-{width}")

    # The book, with its page and its picture, opened by the keyboard.
    rows.first.get_by_role("link", name=f"Open the book of {user}").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"The book of {user}")).to_be_focused()
    written = page.locator("#book-pages li")
    expect(written).to_have_count(1)
    expect(written.first).to_contain_text(book["pages"][0]["text"])
    picture = written.first.locator("img")
    expect(picture).to_have_attribute("alt", "Picture of page 1")
    picture.scroll_into_view_if_needed()
    expect(picture).to_have_js_property("complete", True)
    assert picture.evaluate("img => img.naturalWidth") > 0
    force = page.get_by_label("Force: finish with the pages it has")
    expect(force).to_be_checked()  # the book is not done
    assert_no_serious_violation(page)
    screenshot(page, f"admin-book-{width}")

    # Finishing asks for a title first, then for a confirmation.
    page.get_by_role("button", name="Finish the book…").click()
    expect(page.get_by_label("Title", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#finish-book-title-error")).to_have_text("Give the book a title.")
    title = f"Momo's Map at {width}"
    page.get_by_label("Title", exact=True).fill(title)
    # Without force the API refuses (the book is not done): said on the page, nothing changes.
    force.uncheck()
    page.get_by_role("button", name="Finish the book…").click()
    confirm_by_keyboard(page, "Finish the book")
    expect(page.get_by_role("alert")).to_contain_text("That did not work:")
    expect(page.get_by_role("heading", name=f"The book of {user}")).to_be_visible()
    force.check()
    finishes: list[Request] = []
    page.on(
        "request", lambda request: finishes.append(request) if request.method == "POST" else None
    )
    page.get_by_role("button", name="Finish the book…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Force-finish the book of {user} as “{title}”? It keeps")
    expect(dialog).to_contain_text(f"(1 of {PAGES})")
    assert_no_serious_violation(page)
    screenshot(page, f"admin-confirm-finish-{width}", full_page=False)
    confirm_by_keyboard(page, "Finish the book")
    assert re.fullmatch(r"[0-9a-f]{32}", finishes[-1].headers["idempotency-key"])

    # The finished book, then the finished books with its cost and the day's totals.
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_focused()
    expect(page.get_by_role("status")).to_have_text(f"The book of {user} is finished as “{title}”.")
    facts = page.locator("#finished-book-facts")
    expect(facts).to_contain_text("an admin")
    expect(facts).to_contain_text(user)
    book_id = facts.locator("code").inner_text()
    expect(page.locator("#finished-book-cover")).to_have_js_property("complete", True)
    assert_no_serious_violation(page)
    screenshot(page, f"admin-finished-book-{width}")

    page.get_by_role("navigation").get_by_role("link", name="Finished").click()
    expect(page.get_by_role("heading", name="Finished books")).to_be_focused()
    listed = page.locator("#finished-table tbody tr", has_text=title)
    expect(listed).to_have_count(1)
    admin_view = client.get(
        f"/v1/admin/books/{book_id}", headers={"Authorization": f"Bearer {admin_token}"}
    ).json()
    usage = admin_view["usage"]
    expect(listed.locator("td").nth(4)).to_have_text(
        f"{usage['tokens_in']} / {usage['tokens_out']}"
    )
    expect(listed.locator("td").nth(5)).to_have_text(str(usage["images"]))
    totals = page.locator("#day-totals")
    expect(totals.locator("dt").first).to_have_text("Books finished")
    assert int(totals.locator("dd").first.inner_text()) >= 1
    assert_no_serious_violation(page)
    screenshot(page, f"admin-finished-{width}")

    # Take it down: Escape cancels and changes nothing; then confirmed by the keyboard. Opened
    # by its address (a fresh load, no list seen), the book still says whose it is.
    listed.get_by_role("link", name=f"Open “{title}”").click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_focused()
    page.reload()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(page.locator("#finished-book-facts")).to_contain_text(user)
    takedown = page.get_by_role("button", name="Take down…")
    takedown.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_contain_text(
        f"Take down “{title}”, the book of {user}, for good?"
    )
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert client.get(f"/v1/admin/books/{book_id}", headers=auth).status_code == 200
    takedown.focus()
    page.keyboard.press("Enter")
    confirm_by_keyboard(page, "Take down")
    expect(page.get_by_role("heading", name="Finished books")).to_be_focused()
    expect(page.get_by_role("status")).to_have_text(f"“{title}” is taken down.")
    expect(page.locator("#finished-table tbody tr", has_text=title)).to_have_count(0)
    assert client.get(f"/v1/admin/books/{book_id}", headers=auth).status_code == 404

    # Both actions are in the audit log: who, what, when.
    page.get_by_role("navigation").get_by_role("link", name="Audit log").click()
    mine = page.locator("#audit-table tbody tr", has_text=admin)
    expect(mine.filter(has_text="Took a book down")).to_have_count(1)
    expect(mine.filter(has_text="Finished a book")).to_have_count(1)
    expect(mine.filter(has_text="Took a book down").locator("time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\dT")
    )
    assert_no_serious_violation(page)
    screenshot(page, f"admin-audit-{width}")
    assert [e for e in errors if "status of 409" not in e] == []  # the refused finish only


@pytest.mark.parametrize("width", [390, 1280])
def test_a_user_token_gets_admins_only_and_no_data(
    browser: Browser, server: Server, width: int
) -> None:
    _, env = server
    book_in_progress(server, f"someone-{width}")
    page = open_console(browser, server, width, cli_token(env, f"someone-{width}"))
    errors = watched(page)
    expect(page.get_by_role("heading", name="Admins only")).to_be_visible()
    expect(page.locator("#console")).to_be_hidden()
    expect(page.locator("tbody tr")).to_have_count(0)
    expect(page.get_by_role("banner")).to_contain_text(f"someone-{width}")
    assert_no_serious_violation(page)
    screenshot(page, f"admin-admins-only-{width}")
    assert [e for e in errors if "status of 403" not in e] == []  # the API's refusal only


@pytest.mark.parametrize("width", [390, 1280])
def test_signed_out_the_page_says_how_to_sign_in(
    browser: Browser, server: Server, width: int
) -> None:
    page = open_console(browser, server, width, None)
    errors = watched(page)
    expect(page.get_by_role("heading", name="Sign in as an admin")).to_be_visible()
    expect(page.locator("#signed-out-view code")).to_have_text(
        "littlewriter login-link NAME --admin"
    )
    assert_no_serious_violation(page)
    screenshot(page, f"admin-signed-out-{width}")
    assert errors == []


def test_signing_out_leaves_the_console(browser: Browser, server: Server) -> None:
    _, env = server
    page = open_console(browser, server, 1280, cli_token(env, "admin-out", admin=True))
    errors = watched(page)
    expect(page.get_by_role("heading", name="Books in progress")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in as an admin")).to_be_visible()
    expect(page.locator("#console")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('lw.token')") is None
    assert errors == []


def test_the_console_speaks_korean(browser: Browser, server: Server) -> None:
    client, env = server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors = watched(page)
    token = cli_token(env, "admin-ko", admin=True)
    page.goto(f"{client.base_url}/admin?lang=ko#token={token}")
    assert page.locator("html").get_attribute("lang") == "ko"
    expect(page.get_by_role("heading", name="쓰고 있는 책")).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("link", name="감사 기록")).to_be_visible()
    assert_no_serious_violation(page)
    screenshot(page, "admin-in-progress-ko-390")
    assert errors == []


def test_a_stuck_book_is_marked_in_words_not_by_colour_alone(
    browser: Browser, server: Server
) -> None:
    # A book is stuck when its page's generation outlived its lease: hard to bring about in a
    # healthy server, so the list's answer is given here, as the admin API words it.
    client, env = server
    items = [
        {
            "user_id": user,
            "id": f"00000000-0000-4000-8000-00000000000{n}",
            "state": state,
            "pages_written": 2,
            "page_count": 4,
            "updated_at": "2026-12-01T00:00:00+00:00",
            "expires_at": "2026-12-02T00:00:00+00:00",
            "stuck": stuck,
        }
        for n, (user, state, stuck) in enumerate(
            [("paula", "generating", True), ("minho", "bookInProgress", False)]
        )
    ]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = watched(page)
    page.route(
        "**/v1/admin/books-in-progress?*",
        lambda route: route.fulfill(json={"items": items, "next_cursor": None}),
    )
    page.goto(f"{client.base_url}/admin#token={cli_token(env, 'admin-stuck', admin=True)}")
    rows = page.locator("#in-progress-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_class("stuck")
    expect(rows.nth(0)).to_contain_text("Writing a page Stuck")
    expect(rows.nth(1)).not_to_contain_text("Stuck")
    assert_no_serious_violation(page)
    screenshot(page, "admin-in-progress-stuck-1280")
    assert errors == []
