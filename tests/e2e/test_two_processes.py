"""Two `littlewriter serve` processes on one real Redis: events cross processes, and a page whose
server died (or froze) is given back by the other one and can be written again there.

Both processes share the Redis (LW_TEST_REDIS_URL; skipped when unset, required with
LW_TEST_REQUIRE_SERVICES=1), one data dir (local images and a SQLite database migrated once by
`littlewriter migrate` before any server starts) and the JWT secret. Every test has a user id of
its own, so what else the shared Redis holds never matters.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import BOOK, SECRET, make_token
from tests.fake_openai import FakeOpenAI
from tests.integration.services import service_url
from tests.processes import free_port, wait_until_healthy
from tests.sse import EventReader, open_events

pytest_plugins = ["tests.fake_openai"]
pytestmark = pytest.mark.services

CLI = [sys.executable, "-m", "app.interfaces.cli"]
ASYNC = {"Prefer": "respond-async"}
PAGE_EVENTS = ["page_text", "questions", "image_ready", "page_done"]
LAST_PAGE_EVENTS = ["page_text", "image_ready", "page_done", "book_done"]  # no questions after it

# A page in flight: the text request waits TEXT_DELAY at the fake; the page gives up after
# DEADLINE; its lease (which must outlast the deadline) passes after LEASE, and every process
# looks for passed leases every RECOVERY seconds.
TEXT_DELAY = 3.0
DEADLINE = 4
LEASE = 5
RECOVERY = 0.5
SHORT_LEASES = {
    "LW_PAGE_DEADLINE_SECONDS": str(DEADLINE),
    "LW_GENERATION_LEASE_SECONDS": str(LEASE),
    "LW_RECOVERY_INTERVAL_SECONDS": str(RECOVERY),
}
A_IDEA = "a lantern in the night"
PAGE_FROM_A = {"text": "Momo follows a lantern that A wrote into the night.", "summary": "A's."}
PAGE_FROM_B = {"text": "Momo builds a snow fort that B wrote before sunrise.", "summary": "B's."}


# -- the processes -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, number: signal.Signals) -> None:
        self.process.send_signal(number)

    def wait(self, seconds: float = 30) -> int:
        return self.process.wait(timeout=seconds)


@dataclass
class Deployment:
    """Servers on the shared data dir and Redis; every one started is stopped at the end."""

    data_dir: Path
    redis_url: str
    started: list[Server] = field(default_factory=list)

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
        env.update(
            LW_DATA_DIR=str(self.data_dir),
            LW_JWT_SECRET=SECRET,
            LW_REDIS_URL=self.redis_url,
            LW_RATE_LIMIT_GENERATION="1000/minute",
            LW_EVENTS_HEARTBEAT_SECONDS="1",
            **extra,
        )
        return env

    def start(self, names: list[str], extra: dict[str, str] | None = None) -> list[Server]:
        """Start one server per name at once; return when every one answers /health."""
        servers = []
        for name in names:
            log = self.data_dir / f"serve-{name}-{uuid.uuid4().hex[:6]}.log"
            port = free_port()
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [*CLI, "serve", "--port", str(port)],
                    # Each server runs the jobs it queues, as on the embedded store: these
                    # tests are about a page job that dies or freezes with its server, its
                    # lease and its fence (the shared queue's redelivery: test_job_queue.py).
                    env=self.env(
                        {**(extra or {}), "LW_JOB_QUEUE": f"jobs-of-{name}-{uuid.uuid4().hex[:6]}"}
                    ),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            server = Server(name, process, f"http://127.0.0.1:{port}", log)
            self.started.append(server)
            servers.append(server)
        for server in servers:
            with httpx.Client(base_url=server.url, timeout=5) as client:
                wait_until_healthy(server.process, client, server.log_text)
        return servers

    def stop_all(self) -> None:
        for server in self.started:
            process = server.process
            if process.poll() is not None:
                continue
            process.send_signal(signal.SIGCONT)  # a stopped process acts on SIGTERM only once woken
            process.terminate()
        for server in self.started:
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=15)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir every server of this module shares, its SQLite database migrated once."""
    redis_url = service_url("LW_TEST_REDIS_URL")
    data = tmp_path_factory.mktemp("two-processes")
    env = Deployment(data, redis_url).env({})
    migrated = subprocess.run(
        [*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    return data


@pytest.fixture
def deployment(data_dir: Path) -> Iterator[Deployment]:
    deployment = Deployment(data_dir, service_url("LW_TEST_REDIS_URL"))
    try:
        yield deployment
    finally:
        deployment.stop_all()


@pytest.fixture
def user() -> str:
    return f"e2e-two-{uuid.uuid4()}"


def ai_settings(fake: FakeOpenAI) -> dict[str, str]:
    return {
        "LW_OPENAI_API_KEY": "test-key",
        "LW_OPENAI_BASE_URL": fake.base_url,
        "LW_OPENAI_MAX_RETRIES": "0",
        **SHORT_LEASES,
    }


# -- HTTP ----------------------------------------------------------------------------------------


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user)}"}


@asynccontextmanager
async def clients(*servers: Server) -> AsyncIterator[list[httpx.AsyncClient]]:
    opened = [httpx.AsyncClient(base_url=s.url, timeout=10) for s in servers]
    try:
        yield opened
    finally:
        for client in opened:
            await client.aclose()


async def start_book(api: httpx.AsyncClient, user: str, pages: int = 3) -> dict[str, Any]:
    response = await api.post("/v1/books", json={**BOOK, "page_count": pages}, headers=auth(user))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def write_async(api: httpx.AsyncClient, user: str, idea: str) -> dict[str, Any]:
    response = await api.post(
        "/v1/books/current/pages", json={"input": idea}, headers={**auth(user), **ASYNC}
    )
    assert response.status_code == 202, response.text
    assert response.headers["preference-applied"] == "respond-async"
    body: dict[str, Any] = response.json()
    assert body["state"] == "generating"
    return body


async def write_now(api: httpx.AsyncClient, user: str, idea: str) -> dict[str, Any]:
    response = await api.post("/v1/books/current/pages", json={"input": idea}, headers=auth(user))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def current(api: httpx.AsyncClient, user: str) -> dict[str, Any]:
    response = await api.get("/v1/books/current", headers=auth(user))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until(check: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def without_links(book: dict[str, Any]) -> dict[str, Any]:
    """The book without its image links (each process links to itself)."""
    pages = [{k: v for k, v in p.items() if k != "image_url"} for p in book["pages"]]
    return {**{k: v for k, v in book.items() if k != "cover_image_url"}, "pages": pages}


def event_key(event_id: str | None) -> tuple[int, ...]:
    assert event_id
    return tuple(int(part) for part in event_id.split("-"))


def assert_in_order(reader: EventReader, after: str | None = None) -> None:
    keys = [event_key(e.id) for e in reader.events]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), keys
    if after is not None:
        assert keys[0] > event_key(after)
    versions = [e.data["version"] for e in reader.events]
    assert versions == sorted(versions), versions


# -- events cross processes ----------------------------------------------------------------------


async def test_events_reach_a_client_connected_to_the_other_process(
    deployment: Deployment, user: str
) -> None:
    a, b = await asyncio.to_thread(deployment.start, ["a", "b"])
    async with clients(a, b) as (api_a, api_b):
        book = await start_book(api_a, user)
        async with open_events(api_b, auth(user)) as on_b:
            await write_async(api_a, user, "a glowing map")
            await on_b.wait_for_name("page_text")
            polled = await current(api_b, user)  # polling the other process shows the text
            assert [p["text"] for p in polled["pages"]] == [on_b.events[0].data["text"]]
            await on_b.wait_for_name("page_done")
        assert on_b.names() == PAGE_EVENTS
        assert {(e.data["book_id"], e.data["page"]) for e in on_b.events} == {(book["id"], 1)}
        assert_in_order(on_b)
        polled = await current(api_b, user)
        assert polled["state"] == "bookInProgress" and len(polled["pages"]) == 1
        page = polled["pages"][0]
        assert page["text"] == on_b.events[0].data["text"] and page["image_status"] == "ready"
        assert polled["questions"] == on_b.events[1].data["questions"]
        picture = await api_b.get(on_b.events[2].data["image_url"])  # drawn and stored by A
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"

        # Disconnected: page 2 is written on B. Reconnected to A with B's last id: nothing lost.
        last_id = on_b.events[-1].id
        assert last_id is not None
        second = await write_now(api_b, user, "a bridge of ice")
        resume = {**auth(user), "Last-Event-ID": last_id}
        async with open_events(api_a, resume) as on_a:
            await on_a.wait_for_name("page_done")
            await write_async(api_b, user, "home for cocoa")
            await on_a.wait_for_name("book_done")
        assert on_a.names() == [*PAGE_EVENTS, *LAST_PAGE_EVENTS]
        assert [e.data["page"] for e in on_a.events[:7]] == [2] * 4 + [3] * 3
        assert on_a.events[7].data["pages"] == 3  # book_done counts the pages instead
        assert on_a.events[0].data["text"] == second["pages"][1]["text"]
        assert_in_order(on_a, after=last_id)

        done = await current(api_a, user)
        assert done["state"] == "done" and done["version"] == on_a.events[-1].data["version"]
        texts = [p["text"] for p in done["pages"]]
        assert texts == [on_b.events[0].data["text"], second["pages"][1]["text"], texts[2]]
        assert texts[2] == on_a.events[4].data["text"]
        assert [p["image_status"] for p in done["pages"]] == ["ready"] * 3
        assert without_links(await current(api_b, user)) == without_links(done)


# -- a page whose server died --------------------------------------------------------------------


async def page_in_flight_on_a(
    fake: FakeOpenAI, api_a: httpx.AsyncClient, user: str
) -> tuple[dict[str, Any], float]:
    """Post page 1 to A, text first, and return once A's text request waits at the fake."""
    fake.responses.delay(TEXT_DELAY)
    fake.responses.reply(PAGE_FROM_A)  # what A's text request will be answered (too late)
    before = fake.responses.count
    claimed = await write_async(api_a, user, A_IDEA)
    posted_at = time.monotonic()
    await until(lambda: fake.responses.count > before, "A's text request")
    return claimed, posted_at


async def given_back_on_b(
    on_b: EventReader, api_b: httpx.AsyncClient, user: str, posted_at: float
) -> dict[str, Any]:
    """B's recovery gives page 1 back once A's lease passed: announced, and the book is free."""
    await on_b.wait_for_name("generation_failed", seconds=LEASE + 5)
    waited = time.monotonic() - posted_at
    assert on_b.names() == ["generation_failed"]
    failed = on_b.events[0].data
    assert failed["stage"] == "text" and failed["page"] == 1, failed
    assert "given up" in failed["detail"]
    assert LEASE - 1 <= waited <= LEASE + 3 * RECOVERY + 3, waited
    book = await current(api_b, user)
    assert book["state"] == "bookInProgress" and book["pages"] == []
    assert book["version"] == failed["version"]
    return book


async def test_a_page_whose_server_was_killed_is_given_back_and_written_on_the_other(
    deployment: Deployment, user: str, fake_openai: FakeOpenAI
) -> None:
    a, b = await asyncio.to_thread(deployment.start, ["a", "b"], ai_settings(fake_openai))
    async with clients(a, b) as (api_a, api_b):
        await start_book(api_b, user)
        async with open_events(api_b, auth(user)) as on_b:
            claimed, posted_at = await page_in_flight_on_a(fake_openai, api_a, user)
            a.signal(signal.SIGKILL)
            assert await asyncio.to_thread(a.wait) == -signal.SIGKILL

            given_back = await given_back_on_b(on_b, api_b, user, posted_at)
            assert given_back["version"] > claimed["version"]

            fake_openai.responses.delay(0)
            fake_openai.responses.reply(PAGE_FROM_B)
            await write_async(api_b, user, "a snow fort")
            await on_b.wait_for_name("page_done")
        assert on_b.names() == ["generation_failed", *PAGE_EVENTS]
        assert_in_order(on_b)
        book = await current(api_b, user)
        assert book["state"] == "bookInProgress"
        assert book["version"] == on_b.events[-1].data["version"]
        assert [(p["input"], p["text"], p["image_status"]) for p in book["pages"]] == [
            ("a snow fort", PAGE_FROM_B["text"], "ready")
        ]


# -- a late write from a frozen server -----------------------------------------------------------

# What A may log when it wakes with its page given up, whichever step it was at: the deadline
# fired (then its release is refused by the fence), or its text arrived and the store refused it.
REFUSALS = ("generation already given back", "longer than its lease")


async def test_a_late_write_from_a_frozen_server_is_refused_by_the_fence(
    deployment: Deployment, user: str, fake_openai: FakeOpenAI
) -> None:
    a, b = await asyncio.to_thread(deployment.start, ["a", "b"], ai_settings(fake_openai))
    async with clients(a, b) as (api_a, api_b):
        await start_book(api_b, user)
        async with open_events(api_b, auth(user)) as on_b:
            _, posted_at = await page_in_flight_on_a(fake_openai, api_a, user)
            a.signal(signal.SIGSTOP)
            await given_back_on_b(on_b, api_b, user, posted_at)
            fake_openai.responses.delay(0)
            fake_openai.responses.reply(PAGE_FROM_B)
            written = await write_now(api_b, user, "a snow fort")
            await on_b.wait_for_name("page_done")
            events_before = len(on_b.events)

            a.signal(signal.SIGCONT)  # A wakes: its text answer waits; its deadline has passed
            await until(
                lambda: any(r in a.log_text() for r in REFUSALS), "A to log the refusal", 10
            )
            await asyncio.sleep(3 * RECOVERY)  # anything A (or a recovery) still did would show
            assert on_b.names()[events_before:] == [], on_b.names()
        assert on_b.names() == ["generation_failed", *PAGE_EVENTS]

        for api in (api_a, api_b):  # A answers again, and both see exactly B's page
            book = await current(api, user)
            assert book["version"] == written["version"], (book, written)
            assert without_links(book) == without_links(written)
            assert [(p["input"], p["text"]) for p in book["pages"]] == [
                ("a snow fort", PAGE_FROM_B["text"])
            ]
            assert book["state"] == "bookInProgress"
        # A did get its page text, late: the fake answered while A was frozen.
        (late,) = [c for c in fake_openai.responses.calls if A_IDEA in json.dumps(c.request)]
        assert late.status == 200 and late.duration is not None and late.duration >= TEXT_DELAY
    a.signal(signal.SIGTERM)  # uvicorn ends by raising the signal again once it has shut down
    assert await asyncio.to_thread(a.wait) in (0, -signal.SIGTERM), a.log_text()
    assert "Application shutdown complete" in a.log_text()
