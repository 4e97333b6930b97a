"""What the browser tests of the web pages share: Debian's Chromium under Playwright, a real
`littlewriter serve` on embedded defaults with tokens from its own CLI, console errors
collected, and axe-core's serious violations."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.integration.services import installed
from tests.processes import CLI, running_server

SCREENSHOTS = Path(os.environ.get("LW_TEST_SCREENSHOTS", "test-results/screenshots"))
Server = tuple[httpx.Client, dict[str, str]]  # a client of the server, and its environment


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = installed("/usr/bin/chromium", "chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def embedded_server(data: Path, settings: Mapping[str, str] | None = None) -> Iterator[Server]:
    """`littlewriter serve` on embedded defaults, with these settings (LW_...) on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LW_", "PROMETHEUS_"))}
    env.update(LW_DATA_DIR=str(data), LW_JWT_SECRET=secrets.token_hex(32), **(settings or {}))
    with running_server(env) as (client, _):
        yield client, env


def cli_token(env: dict[str, str], user: str, *, admin: bool = False) -> str:
    """A token from `littlewriter token USER [--admin]`, as an operator makes one."""
    command = [*CLI, "token", user, *(["--admin"] if admin else [])]
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def noted(message: ConsoleMessage) -> str:
    """A console message as the tests note it: its text, and the address it came from."""
    return f"{message.text} @ {message.location.get('url', '')}"


def watched(page: Page, expected: Callable[[ConsoleMessage], bool] = lambda _: False) -> list[str]:
    """The page's console errors, but those it expects, and uncaught exceptions, as they
    happen."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not expected(message):
            errors.append(noted(message))

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def assert_no_serious_violation(page: Page) -> None:
    results = Axe().run(page)
    serious = [
        (violation["id"], violation["impact"])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == [], results.generate_report()


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """The whole page (a modal dialog: only the window, which its backdrop covers)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)
