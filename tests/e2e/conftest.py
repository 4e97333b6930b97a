"""The browser and the server the browser tests of the web pages share, one of each a module.
A module with a `server` of another kind defines its own, which pytest uses there instead."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.e2e.browsing import Server, chromium, embedded_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `littlewriter serve` on embedded defaults, with a data dir of its own."""
    with embedded_server(tmp_path_factory.mktemp("web")) as running:
        yield running
