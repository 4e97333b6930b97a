"""Generation on the job queue (SAQ on a real Redis), with real processes: a worker killed in
the middle of a page, a server stopped with pages in flight, API processes with a separate
worker. The model is the fake OpenAI server on loopback, slowed down so the work is in flight."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_openai import FakeOpenAI
from tests.integration.services import service_url
from tests.processes import CLI, free_port, running_server

pytest_plugins = ["tests.fake_openai"]
pytestmark = pytest.mark.services
BOOK = {"characters": [{"name": "Momo"}], "page_count": 2}
ASYNC = {"Prefer": "respond-async"}


def _env(tmp_path: Path, fake: FakeOpenAI, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LW_", "PROMETHEUS_"))}
    env.update(
        LW_DATA_DIR=str(tmp_path),
        LW_JWT_SECRET=secrets.token_hex(32),
        LW_REDIS_URL=service_url("LW_TEST_REDIS_URL"),
        LW_OPENAI_API_KEY="test-key",
        LW_OPENAI_BASE_URL=fake.base_url,
        LW_OPENAI_MAX_RETRIES="0",
        **settings,
    )
    return env


def _auth(env: dict[str, str], user: str) -> dict[str, str]:
    token = subprocess.run(
        [*CLI, "token", user], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def worker(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `littlewriter worker`, its log in the data dir (kept with the test's tmp_path)."""
    logs = Path(env["LW_DATA_DIR"])
    log = logs / f"worker-{len(list(logs.glob('worker-*.log')))}.log"
    with log.open("wb") as output:
        process = subprocess.Popen([*CLI, "worker", *args], env=env, stdout=output, stderr=output)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def _book(client: httpx.Client, auth: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/books/current", headers=auth)
    assert response.status_code == 200, response.text
    book: dict[str, Any] = response.json()
    return book


def _wait_for_page(
    client: httpx.Client, auth: dict[str, str], timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        book = _book(client, auth)
        pages = book["pages"]
        if pages and pages[0]["image_status"] != "pending" and book["state"] != "generating":
            return book
        assert time.monotonic() < deadline, book
        time.sleep(0.25)


def test_a_worker_killed_in_the_middle_of_a_page_the_page_still_arrives_once(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    env = _env(tmp_path, fake_openai)
    auth = _auth(env, f"killed-{uuid.uuid4().hex[:10]}")
    with running_server(env | {"LW_RUN_JOBS": "false"}) as (client, _):  # an API-only server
        with worker(env):  # the cover is a job too
            assert client.post("/v1/books", json=BOOK, headers=auth).status_code == 201
        fake_openai.reset()
        fake_openai.responses.delay(3.0)  # the page's text takes a while
        with worker(env) as first:
            accepted = client.post(
                "/v1/books/current/pages", json={"input": "a glowing map"}, headers=auth | ASYNC
            )
            assert accepted.status_code == 202, accepted.text
            fake_openai.responses.wait_for(1, timeout=30)  # the first worker is writing it
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        fake_openai.responses.delay(0)
        with worker(env):  # no client retries: the queue gives the job to this worker
            book = _wait_for_page(client, auth)
    assert [page["input"] for page in book["pages"]] == ["a glowing map"]
    assert book["pages"][0]["image_status"] == "ready"
    assert book["state"] == "bookInProgress" and book["questions"]


def _books_started(client: httpx.Client, users: list[dict[str, str]]) -> None:
    for auth in users:
        assert client.post("/v1/books", json=BOOK, headers=auth).status_code == 201


def _pages_in_flight(client: httpx.Client, users: list[dict[str, str]], fake: FakeOpenAI) -> None:
    """Each user sends a page, and every one is being written (the model slowed down)."""
    fake.reset()
    fake.responses.delay(2.0)
    fake.images.delay(2.0)
    for auth in users:
        accepted = client.post(
            "/v1/books/current/pages", json={"input": "a map"}, headers=auth | ASYNC
        )
        assert accepted.status_code == 202, accepted.text
    fake.responses.wait_for(len(users), timeout=30)


def _assert_every_page_stored(books: list[dict[str, Any]]) -> None:
    assert all([p["input"] for p in book["pages"]] == ["a map"] for book in books), books
    assert all(book["pages"][0]["image_status"] == "ready" for book in books)


def test_a_worker_stopped_with_pages_in_flight_finishes_them(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    env = _env(tmp_path, fake_openai, LW_SHUTDOWN_GRACE_SECONDS="20")
    users = [_auth(env, f"stopped-{i}-{uuid.uuid4().hex[:8]}") for i in range(20)]
    with running_server(env | {"LW_RUN_JOBS": "false"}) as (client, _):
        with worker(env) as running:
            _books_started(client, users)  # their covers are jobs of this worker
            _pages_in_flight(client, users, fake_openai)
            running.send_signal(signal.SIGTERM)
            assert running.wait(timeout=60) == 0
        # No worker runs now: what is stored was finished by the one that was told to stop.
        _assert_every_page_stored([_book(client, auth) for auth in users])


def test_a_server_stopped_with_pages_in_flight_finishes_them(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    env = _env(tmp_path, fake_openai, LW_SHUTDOWN_GRACE_SECONDS="20")
    users = [_auth(env, f"served-{i}-{uuid.uuid4().hex[:8]}") for i in range(20)]
    with running_server(env) as (client, server):  # it runs its own jobs
        _books_started(client, users)
        _pages_in_flight(client, users, fake_openai)
        server.send_signal(signal.SIGTERM)
        # uvicorn ends by raising the signal again once it has shut down.
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)
    fake_openai.reset()
    with running_server(env | {"LW_RUN_JOBS": "false"}) as (client, _):  # runs no job itself
        _assert_every_page_stored([_book(client, auth) for auth in users])


def test_api_processes_and_a_separate_worker_share_one_redis(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    env = _env(tmp_path, fake_openai)
    auth = _auth(env, f"split-{uuid.uuid4().hex[:10]}")
    metrics_port = free_port()
    with (
        worker(env, "--concurrency", "4", "--metrics-port", str(metrics_port)),
        running_server(env | {"LW_RUN_JOBS": "false"}, "--workers", "2") as (client, _),
    ):
        assert client.post("/v1/books", json=BOOK, headers=auth).status_code == 201
        first = client.post("/v1/books/current/pages", json={"input": "a map"}, headers=auth)
        assert first.status_code == 200, first.text  # waited for the worker's job
        assert first.json()["pages"][0]["image_status"] == "ready"
        second = client.post(
            "/v1/books/current/pages", json={"input": "home"}, headers=auth | ASYNC
        )
        assert second.status_code == 202
        fake_openai.images.wait_for(3, timeout=30)  # the cover and both pages' pictures
        book = _wait_for_page(client, auth)
        while book["state"] != "done":
            time.sleep(0.25)
            book = _book(client, auth)
        # The model calls were made, and counted, in the worker: its own scrape shows them.
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    assert [page["input"] for page in book["pages"]] == ["a map", "home"]
    assert 'littlewriter_generations_total{kind="page",outcome="ok"} 2.0' in scraped
