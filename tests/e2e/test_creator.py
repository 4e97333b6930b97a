"""The creator (`GET /`) in a real browser: Debian's Chromium driven by Playwright, a real
`littlewriter serve` on embedded defaults. Signed in with a login link, a parent starts a book
with two characters (a refused field shows its error beside it), writes every page by tapping a
suggestion and by typing (the text appears before the picture), finishes it, finds it on the
shelf, opens it in the reader and downloads its PDF; a second book is discarded. At 390 px and
1280 px, no console error, axe-core finds no serious violation on any screen, and screenshots go
to test-results/screenshots/creator-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.e2e.browsing import (
    Server,
    assert_no_serious_violation,
    cli_token,
    embedded_server,
    noted,
    screenshot,
    watched,
)
from tests.fake_openai import FakeOpenAI
from tests.fault_proxy import ThreadedFaultProxy

PAGES = 3

# Records, in order, when each page's text and each page's picture enter the page.
ORDER_OBSERVER = """() => {
  window.__appeared = [];
  const seen = new Set();
  const note = (what) => { if (!seen.has(what)) { seen.add(what); window.__appeared.push(what); } };
  new MutationObserver(() => {
    for (const page of document.querySelectorAll("#pages li[data-page]")) {
      const n = page.dataset.page;
      if (page.querySelector(".page-text")?.textContent) note(`text:${n}`);
      if (page.querySelector("img.page-picture")) note(`picture:${n}`);
    }
  }).observe(document.getElementById("pages"), { childList: true, subtree: true });
}"""


BLUR = "() => { const focused = document.activeElement; focused?.blur(); return focused; }"


def login_link(server: Server, user: str) -> str:
    client, env = server
    return f"{client.base_url}/#token={cli_token(env, user)}"


# The browser notes every answer >= 400 in the console. These are the API's own answers that
# the page expects (no book in progress yet: 404; the start refused on purpose: 422).
EXPECTED = re.compile(
    r"Failed to load resource: the server responded with a status of "
    r"(404 \(Not Found\) @ \S+/v1/books/current|422 \(Unprocessable Entity\) @ \S+/v1/books)$"
)


def expected(message: ConsoleMessage) -> bool:
    return EXPECTED.match(noted(message)) is not None


def screen(page: Page, name: str, width: int, *, full_page: bool = True) -> None:
    """A screenshot of the page (all of it, or what is in view), and no serious accessibility
    violation on it."""
    # A full-page shot resizes the view, after which Chromium scrolls a focused field back
    # into view at the next click (as for a phone's keyboard): blur it for the shot.
    focused = page.evaluate_handle(BLUR)
    screenshot(page, f"creator-{name}-{width}", full_page=full_page)
    page.evaluate("element => element?.focus({ preventScroll: true })", focused)
    assert_no_serious_violation(page)


def start_a_book(page: Page, width: int | None = None) -> None:
    page.get_by_label("Name of character 1").fill("Momo")
    page.get_by_label("What is character 1 like?").fill("a brave little rabbit with a red scarf")
    page.get_by_role("button", name="+ Add a character").click()
    page.get_by_label("Name of character 2").fill("Pip")
    page.get_by_label("What is character 2 like?").fill("a sleepy owl who loves maps")
    page.get_by_label("Where does it happen?").fill("a snowy forest")
    page.get_by_label("How many pages?").fill(str(PAGES))
    page.get_by_label("Age of the reader").select_option("5")
    if width is not None:
        screen(page, "start", width)
    page.get_by_role("button", name="Start the book").click()
    expect(page.locator("#book")).to_be_visible(timeout=20_000)


@pytest.mark.parametrize("width", [390, 1280])
def test_a_book_is_written_finished_kept_and_read(
    browser: Browser, server: Server, width: int
) -> None:
    context = browser.new_context(
        viewport={"width": width, "height": 844 if width == 390 else 800}, accept_downloads=True
    )
    page = context.new_page()
    errors = watched(page, expected)
    base = str(server[0].base_url)

    page.goto(base + "/")
    expect(page.locator("#signed-out")).to_be_visible()
    expect(page.get_by_text("littlewriter login-link NAME")).to_be_visible()
    screen(page, "signed-out", width)

    user = f"creator-{width}"
    page.goto(login_link(server, user))
    expect(page.locator("#start")).to_be_visible()
    assert "token" not in page.url  # taken from the address bar at once
    expect(page.locator("#account-user")).to_have_text(user)

    # A refused field: its error stands beside it, and nothing is started.
    page.get_by_label("Name of character 1").fill("Momo")
    page.get_by_role("button", name="+ Add a character").click()
    page.get_by_label("Name of character 2").fill("\u200b ")
    page.get_by_role("button", name="Start the book").click()
    error = page.locator("#error-characters-1-name")
    expect(error).not_to_be_empty()
    expect(page.get_by_label("Name of character 2")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name of character 2")).to_be_focused()
    screen(page, "start-error", width)
    page.get_by_role("button", name="Remove character 2").click()

    start_a_book(page, width)
    expect(page.locator("#kept-until")).to_contain_text("Kept until")
    expect(page.locator("#book-characters")).to_have_text("Momo, Pip")
    page.evaluate(ORDER_OBSERVER)
    screen(page, "book", width)

    for number in range(1, PAGES + 1):
        chips = page.locator("#chips .chip")
        expect(chips.first).to_be_visible()
        if number % 2:  # by a suggestion
            suggestion = chips.first.inner_text()
            chips.first.click()
            expect(page.locator("#idea")).to_have_value(suggestion)
            page.get_by_role("button", name="Write this page").click()
        else:  # by typing, and the keyboard alone
            page.locator("#idea").focus()
            page.keyboard.type(f"Pip finds clue number {number}")
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
        text = page.locator(f"#page-{number} .page-text")
        expect(text).not_to_be_empty(timeout=20_000)
        picture = page.locator(f"#page-{number} img.page-picture")
        expect(picture).to_be_visible(timeout=20_000)
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
        )
        if number == 2:
            screen(page, "pages", width)
    appeared: list[str] = page.evaluate("window.__appeared")
    for number in range(1, PAGES + 1):
        assert appeared.index(f"text:{number}") < appeared.index(f"picture:{number}"), appeared

    expect(page.locator("#write-form")).to_be_hidden()
    title = f"Momo's Map at {width}"
    page.get_by_label("The name of the book").fill(title)
    screen(page, "finish", width)
    page.get_by_role("button", name="Finish the book").click()
    expect(page.locator("#status")).to_contain_text("is on your shelf")
    shelf_book = page.locator(".shelf-book").first
    expect(shelf_book.locator("h3")).to_have_text(title)
    expect(page.locator("#start")).to_be_visible()
    screen(page, "shelf", width)

    with page.expect_download() as download:
        page.get_by_role("button", name=f"Download “{title}” as PDF").click()
    saved = download.value.path()
    assert download.value.suggested_filename.endswith(".pdf")
    assert Path(saved).read_bytes().startswith(b"%PDF")

    page.get_by_role("button", name=f"Share “{title}”").click()
    shared = page.get_by_label("Anyone with this link can read the book:")
    expect(shared).to_be_focused()
    link = shared.input_value()
    assert "/read/" in link and server[0].get(link).status_code == 200
    page.get_by_role("button", name="Stop sharing").click()
    expect(shared).to_have_count(0)
    assert server[0].get(link).status_code == 404

    page.get_by_role("button", name=f"Read “{title}”").click()
    page.wait_for_url("**/books/*/read")  # the owner's reader: no share link made
    expect(page.locator("#cover h1")).to_have_text(title)
    page.go_back()
    expect(page.locator(".shelf-book h3").first).to_have_text(title)

    # A second book, discarded after a confirmation (cancelled once).
    start_a_book(page)
    page.get_by_role("button", name="Discard this book").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    screen(page, "discard", width, full_page=False)  # the dialog over the page in view
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#book")).to_be_visible()
    page.get_by_role("button", name="Discard this book").click()
    page.get_by_role("button", name="Discard it").click()
    expect(page.locator("#status")).to_have_text("The book was discarded.")
    expect(page.locator("#start")).to_be_visible()
    token = page.evaluate("localStorage.getItem('lw.token')")
    current = server[0].get("/v1/books/current", headers={"Authorization": f"Bearer {token}"})
    assert current.status_code == 404

    # The finished book, deleted from the shelf after a confirmation.
    page.get_by_role("button", name=f"Delete “{title}”").click()
    page.get_by_role("button", name="Delete it").click()
    expect(page.locator("#status")).to_have_text(f"“{title}” was deleted.")
    expect(page.locator(".shelf-book")).to_have_count(0)
    expect(page.locator("#shelf-empty")).to_be_visible()

    # A login link for someone else, opened here, asks first; then shows their books, not these.
    page.goto(login_link(server, f"{user}-sister"))
    page.get_by_role("button", name=f"Sign in as {user}-sister").click()
    expect(page.locator("#account-user")).to_have_text(f"{user}-sister")
    expect(page.locator("#shelf-empty")).to_be_visible()
    expect(page.locator(".shelf-book")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signed-out")).to_be_visible()
    expect(page.locator("#shelf-section")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('lw.token')") is None
    assert errors == []
    context.close()


# -- When the event stream fails, and when a picture does ---------------------------------------


@dataclass(frozen=True)
class SlowPictures:
    """A server drawing with a fake OpenAI that can be slowed or made to fail, reached by the
    browser through a proxy that can cut every open connection."""

    base: str
    fake: FakeOpenAI
    proxy: ThreadedFaultProxy
    env: dict[str, str]


@pytest.fixture(scope="module")
def slow_pictures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowPictures]:
    data = tmp_path_factory.mktemp("creator-ai")
    with FakeOpenAI.running() as fake:
        settings = {
            "LW_OPENAI_API_KEY": "test-key",
            "LW_OPENAI_BASE_URL": fake.base_url,
            "LW_OPENAI_MAX_RETRIES": "0",
            "LW_RATE_LIMIT_GENERATION": "3/minute",  # each test's user makes at most 3
        }
        with (
            embedded_server(data, settings) as (client, env),
            ThreadedFaultProxy("127.0.0.1", client.base_url.port or 80) as proxy,
        ):
            yield SlowPictures(f"http://127.0.0.1:{proxy.port}", fake, proxy, env)


def signed_in_with_a_book(
    browser: Browser, base: str, env: dict[str, str], user: str, pages: int = 2
) -> Page:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}/#token={cli_token(env, user)}")
    page.get_by_label("Name of character 1").fill("Momo")
    page.get_by_label("How many pages?").fill(str(pages))
    page.get_by_role("button", name="Start the book").click()
    expect(page.locator("#book")).to_be_visible(timeout=20_000)
    return page


def not_network_failures(errors: list[str]) -> list[str]:
    """The errors but the browser's notes of connections the test cut or refused."""
    return [e for e in errors if not e.startswith("Failed to load resource: net::ERR_")]


def write(page: Page, idea: str) -> None:
    page.get_by_label("Your idea for the next page").fill(idea)
    page.get_by_role("button", name="Write this page").click()


def test_a_cut_stream_resumes_from_its_last_event_and_the_picture_arrives(
    browser: Browser, slow_pictures: SlowPictures
) -> None:
    page = signed_in_with_a_book(browser, slow_pictures.base, slow_pictures.env, "creator-cut")
    errors = watched(page, expected)
    slow_pictures.fake.images.delay(3)
    try:
        write(page, "Momo finds a glowing map")
        expect(page.locator("#page-1 .page-text")).not_to_be_empty(timeout=20_000)
        drawing = page.locator("#page-1 .drawing")
        expect(drawing).to_have_text("Drawing the picture…")
        screen(page, "drawing", 390)
        with page.expect_request(lambda r: r.url.endswith("/events")) as reconnect:
            slow_pictures.proxy.reset_all()  # the event stream is cut mid-page
        assert reconnect.value.headers.get("last-event-id")  # resumed, not started afresh
        expect(page.locator("#page-1 img.page-picture")).to_be_visible(timeout=20_000)
    finally:
        slow_pictures.fake.images.delay(0)
    assert not_network_failures(errors) == []  # the cut itself is a network error
    page.close()


def test_without_a_stream_the_page_arrives_by_polling(
    browser: Browser, slow_pictures: SlowPictures
) -> None:
    page = signed_in_with_a_book(browser, slow_pictures.base, slow_pictures.env, "creator-poll")
    errors = watched(page, expected)
    page.route("**/v1/books/current/events", lambda route: route.abort())
    slow_pictures.proxy.reset_all()  # the stream open now is cut; it cannot come back
    write(page, "Momo climbs the tallest tree")
    expect(page.locator("#page-1 .page-text")).not_to_be_empty(timeout=20_000)
    expect(page.locator("#page-1 img.page-picture")).to_be_visible(timeout=20_000)
    expect(page.get_by_label("Your idea for the next page")).to_be_enabled()
    assert not_network_failures(errors) == []  # the cut and refused streams only
    page.close()


def test_a_failed_picture_is_drawn_again(browser: Browser, slow_pictures: SlowPictures) -> None:
    page = signed_in_with_a_book(browser, slow_pictures.base, slow_pictures.env, "creator-redraw")
    errors = watched(page, expected)
    slow_pictures.fake.images.fail(500, times=1)
    write(page, "Momo paints the sky")
    redraw = page.get_by_role("button", name="Draw the picture of page 1 again")
    expect(redraw).to_be_visible(timeout=20_000)
    expect(page.locator("#page-1 .page-text")).not_to_be_empty()
    screen(page, "draw-again", 390)
    redraw.click()
    expect(page.locator("#page-1 img.page-picture")).to_be_visible(timeout=20_000)
    assert errors == []
    page.close()


def test_a_korean_browser_gets_a_korean_interface(browser: Browser, server: Server) -> None:
    context = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = watched(page, expected)
    page.goto(login_link(server, "creator-ko"))
    assert page.locator("html").get_attribute("lang") == "ko"
    page.get_by_label("등장인물 1의 이름").fill("모모")
    page.get_by_label("몇 쪽인가요?").fill("2")
    expect(page.get_by_label("책의 언어")).to_have_value("ko")  # the book's, too, by default
    page.get_by_role("button", name="책 시작하기").click()
    expect(page.locator("#book")).to_be_visible(timeout=20_000)
    page.locator("#chips .chip").first.click()
    page.get_by_role("button", name="이 쪽 쓰기").click()
    text = page.locator("#page-1 .page-text")
    expect(text).not_to_be_empty(timeout=20_000)
    assert text.get_attribute("lang") == "ko"
    expect(page.locator("#page-1 img.page-picture")).to_be_visible(timeout=20_000)
    expect(page.locator("#kept-until")).to_contain_text("보관돼요")
    screen(page, "korean", 390)
    assert errors == []
    context.close()


def test_over_the_rate_limit_the_page_says_how_long_to_wait(
    browser: Browser, slow_pictures: SlowPictures
) -> None:
    page = signed_in_with_a_book(
        browser, slow_pictures.base, slow_pictures.env, "creator-limit", pages=3
    )
    errors = watched(page, expected)
    for number, idea in enumerate(["Momo hops", "Momo sings"], start=1):
        write(page, idea)
        expect(page.locator(f"#page-{number} img.page-picture")).to_be_visible(timeout=20_000)
    write(page, "Momo sleeps")  # the fourth generation in a minute
    error = page.locator("#error-input")
    expect(error).to_contain_text(re.compile(r"You can try again in \d+ seconds\."))
    expect(page.get_by_role("button", name="Write this page")).to_be_disabled()
    expect(page.get_by_label("Your idea for the next page")).to_have_value("Momo sleeps")
    screen(page, "rate-limited", 390, full_page=False)
    assert [e for e in errors if "status of 429" not in e] == []
    page.close()


def test_the_event_stream_parser_reads_what_the_format_allows(
    browser: Browser, server: Server
) -> None:
    """Lines cut anywhere between chunks, CRLF, CR and LF, comments, multi-line data, the
    retry hint, and an id kept only once its event is complete."""
    chunks = [
        "retry: 3000\r\n\r",
        "\n: keep-alive\n\nid: 17-0\nevent: page",
        "_text\n",
        'data: {"a":\n',
        "data: 1}\r\rdata:plain\n\nevent: resync\ndata: {}\n\n",
        "id: 18-0\n",
    ]
    page = browser.new_page()
    page.goto(f"{server[0].base_url}/")
    parsed = page.evaluate(
        """async (chunks) => {
          const { EventStreamParser } = await import("/static/web/creator/sse.js");
          const parser = new EventStreamParser();
          const events = chunks.flatMap((chunk) => parser.push(chunk));
          return { events, lastEventId: parser.lastEventId, retryMs: parser.retryMs };
        }""",
        chunks,
    )
    assert parsed["events"] == [
        {"event": "page_text", "data": '{"a":\n1}', "id": "17-0"},
        {"event": "message", "data": "plain", "id": None},
        {"event": "resync", "data": "{}", "id": None},
    ]
    assert parsed["lastEventId"] == "17-0"
    assert parsed["retryMs"] == 3000
    page.close()


def test_a_page_whose_text_failed_is_sent_again_as_a_new_try(
    browser: Browser, slow_pictures: SlowPictures
) -> None:
    page = signed_in_with_a_book(browser, slow_pictures.base, slow_pictures.env, "creator-retry")
    errors = watched(page, expected)
    slow_pictures.fake.responses.fail(500, times=None)
    try:
        write(page, "Momo builds a snowman")
        expect(page.locator("#error-input")).not_to_be_empty(timeout=30_000)
    finally:
        slow_pictures.fake.reset()
    idea = page.get_by_label("Your idea for the next page")
    expect(idea).to_have_value("Momo builds a snowman")  # kept, to send again
    expect(page.locator("#pages li")).to_have_count(0)
    page.get_by_role("button", name="Write this page").click()
    expect(page.locator("#page-1 .page-text")).not_to_be_empty(timeout=20_000)
    expect(idea).to_have_value("")
    assert errors == []
    page.close()
