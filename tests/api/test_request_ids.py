"""`X-Request-ID`: on every answer, in problem bodies, in the request's log lines (its jobs'
included) and on the model provider's requests."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.infrastructure.logging import configure_logging
from app.infrastructure.settings import Settings
from app.interfaces.composition import Overrides
from tests.api.conftest import ClientFactory, assert_problem, auth, start
from tests.api.test_ai_generation import ai_client
from tests.api.test_failures import FlakyContextGenerator
from tests.fake_openai import FakeOpenAI

pytest_plugins = ["tests.fake_openai"]
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[io.StringIO]:
    """What the service logs, in its own format, for the test; undone afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings(data_dir=tmp_path))
    lines = io.StringIO()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(lines)
    yield lines
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_an_answer_without_a_request_id_gets_a_new_one_each_time(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    first = (await client.get("/health")).headers["X-Request-ID"]
    second = (await client.get("/health")).headers["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


async def test_a_valid_request_id_is_kept(make_client: ClientFactory) -> None:
    client = await make_client()
    sent = "ios-7f3a:page/2+retry=1"
    response = await client.get("/v1/books/current", headers={**auth(), "X-Request-ID": sent})
    assert response.headers["X-Request-ID"] == sent
    assert assert_problem(response, 404, "no_book_in_progress")["request_id"] == sent


@pytest.mark.parametrize(
    "sent",
    ["has a space", "x" * 129, "line\tbreak", "ünïcode", ""],
    ids=["space", "too long", "control", "non-ascii", "empty"],
)
async def test_an_unusable_request_id_is_replaced(make_client: ClientFactory, sent: str) -> None:
    client = await make_client()
    headers = {"X-Request-ID": sent.encode()}  # bytes: httpx sends them as they are
    answered = (await client.get("/health", headers=headers)).headers["X-Request-ID"]
    assert GENERATED.fullmatch(answered)


async def test_every_problem_names_its_request(make_client: ClientFactory) -> None:
    client = await make_client()
    unauthorized = await client.get("/v1/books/current")
    invalid = await client.post("/v1/books", json={"page_count": 0}, headers=auth())
    too_large = await client.post("/v1/books", content=b"{" + b" " * 300_000 + b"}", headers=auth())
    for response, status, code in (
        (unauthorized, 401, "unauthorized"),
        (invalid, 422, "validation_error"),
        (too_large, 413, "payload_too_large"),
    ):
        problem = assert_problem(response, status, code)
        assert problem["request_id"] == response.headers["X-Request-ID"]


async def test_a_500_and_the_log_lines_of_its_request_and_job_name_the_request(
    make_client: ClientFactory, logged: io.StringIO
) -> None:
    writer = FlakyContextGenerator(1, RuntimeError("boom"))
    client = await make_client(Overrides(context_generator=writer), raise_app_exceptions=False)
    await start(client)
    response = await client.post(
        "/v1/books/current/pages",
        json={"input": "an idea"},
        headers={**auth(), "X-Request-ID": "crash-report-1"},
    )
    assert response.headers["X-Request-ID"] == "crash-report-1"
    assert assert_problem(response, 500, "internal_error")["request_id"] == "crash-report-1"
    lines = logged.getvalue().splitlines()
    job_failed = [line for line in lines if "background job page:" in line]
    unhandled = [line for line in lines if "unhandled error" in line]
    assert job_failed and unhandled, lines
    assert all("request_id=crash-report-1" in line for line in job_failed + unhandled)


async def test_the_model_provider_is_told_the_request_id_of_every_call(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(make_client, fake_openai.base_url)
    await start(client, page_count=3)
    fake_openai.reset()
    headers = {**auth(), "X-Request-ID": "page-one-42"}
    response = await client.post(
        "/v1/books/current/pages", json={"input": "a glowing map"}, headers=headers
    )
    assert response.status_code == 200, response.text
    calls = [
        *fake_openai.moderations.calls,
        *fake_openai.responses.calls,
        *fake_openai.images.calls,
    ]
    assert len(calls) >= 4  # the idea moderated, the page, its questions, its picture
    assert {call.headers.get("x-client-request-id") for call in calls} == {"page-one-42"}


async def test_every_answer_is_logged_once_with_its_request_id_status_and_time(
    make_client: ClientFactory, logged: io.StringIO
) -> None:
    client = await make_client()
    await client.get("/v1/books/current", headers={**auth(), "X-Request-ID": "poll-7"})
    [line] = [line for line in logged.getvalue().splitlines() if "littlewriter.access" in line]
    assert '"GET /v1/books/current" 404' in line and "request_id=poll-7" in line
    assert re.search(r" [0-9]+\.[0-9] ms", line)


async def test_the_access_log_can_be_turned_off(
    make_client: ClientFactory, logged: io.StringIO
) -> None:
    client = await make_client(access_log=False)
    await client.get("/v1/books/current", headers=auth())
    assert "littlewriter.access" not in logged.getvalue()
