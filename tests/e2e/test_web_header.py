"""The header the creator and the admin console share, in Debian's Chromium: an admin signed
in on one page finds a link to the other (a login link always opens the creator); a user sees
none. At 390 px, where the header is tightest, nothing in it overflows the screen. A login link
for someone else than the user signed in asks before it switches (any site can send the browser
to one); a fresh token of the same user switches silently."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browsing import (
    Server,
    assert_no_serious_violation,
    cli_token,
    screenshot,
    watched,
)


@pytest.mark.parametrize(
    ("start", "other", "name"), [("/", "/admin", "Admin console"), ("/admin", "/", "Write a book")]
)
def test_an_admin_finds_the_other_web_page_in_the_header(
    browser: Browser, server: Server, start: str, other: str, name: str
) -> None:
    client, env = server
    page = browser.new_page(viewport={"width": 390, "height": 800})
    errors = watched(page)
    token = cli_token(env, "grown-up-with-a-long-name", admin=True)
    page.goto(f"{client.base_url}{start}#token={token}")

    link = page.get_by_role("link", name=name)
    link.wait_for(state="visible")
    assert link.get_attribute("href") == other
    # Every link and button of the header fits; a long user name is cut short instead.
    rights = page.evaluate(
        "[...document.querySelectorAll('header a, header button')]"
        ".map(e => e.getBoundingClientRect().right)"
    )
    assert max(rights) <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_no_serious_violation(page)
    screenshot(page, f"header-{'creator' if start == '/' else 'console'}-390", full_page=False)

    link.click()
    page.wait_for_url(f"{client.base_url}{other}")
    page.get_by_role("button", name="Sign out").wait_for(state="visible")  # still signed in
    page.close()
    assert [e for e in errors if "404" not in e] == []  # the creator asks for a book first


def test_a_user_sees_no_link_to_the_admin_console(browser: Browser, server: Server) -> None:
    client, env = server
    page = browser.new_page(viewport={"width": 390, "height": 800})
    page.goto(f"{client.base_url}/#token={cli_token(env, 'child')}")
    page.get_by_role("button", name="Sign out").wait_for(state="visible")
    assert page.get_by_role("link", name="Admin console").count() == 0
    page.close()


def test_a_login_link_for_someone_else_asks_before_it_switches(
    browser: Browser, server: Server
) -> None:
    client, env = server
    page = browser.new_page(viewport={"width": 390, "height": 800})
    errors = watched(page, lambda m: "404" in m.text)  # no book in progress yet
    page.goto(f"{client.base_url}/#token={cli_token(env, 'child')}")
    expect(page.locator("#account-user")).to_have_text("child")

    # The same user's fresh token: kept without a question.
    page.goto(f"{client.base_url}/#token={cli_token(env, 'child')}")
    expect(page.locator("#account-user")).to_have_text("child")
    expect(page.get_by_role("dialog")).to_have_count(0)

    # Someone else's, sent by another site: a question naming both, "Cancel" keeps the child.
    page.goto(f"{client.base_url}/#token={cli_token(env, 'stranger')}")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("child is signed in on this browser")
    expect(dialog).to_contain_text("stranger")
    assert "token" not in page.url
    screenshot(page, "login-link-switch-390", full_page=False)
    assert_no_serious_violation(page)
    page.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#account-user")).to_have_text("child")
    kept = "JSON.parse(atob(localStorage.getItem('lw.token').split('.')[1])).sub"
    assert page.evaluate(kept) == "child"

    # Confirmed: the other user is signed in.
    page.goto(f"{client.base_url}/#token={cli_token(env, 'stranger')}")
    page.get_by_role("button", name="Sign in as stranger").click()
    expect(page.locator("#account-user")).to_have_text("stranger")
    assert errors == []
    page.close()
