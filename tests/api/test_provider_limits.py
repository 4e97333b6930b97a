"""A burst of pages against a model provider that answers 429 above its rate: with the
provider's limits set a little under that rate, every page waits its turn in the queue (the
202 says until when) and is written with no 429 at all; without them, the same burst fails.
On the embedded in-process queue and on SAQ over a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.api.conftest import ClientFactory, auth, start
from tests.fake_openai import FakeOpenAI
from tests.integration.services import service_url

pytest_plugins = ["tests.fake_openai"]

USERS = 5
ASYNC = {"Prefer": "respond-async"}
# The provider: at most 2 pictures and 4 text requests answered in any second.
PICTURES_PER_SECOND, REQUESTS_PER_SECOND = 2, 4
# The service's limits, half of them: a page (2 requests, a picture) every second, so that a
# call made late by a busy machine still keeps under the provider's rate.
UNDER_THE_PROVIDER = {
    "provider_images_per_minute": 60,
    "provider_requests_per_minute": 120,
}


@pytest.fixture(params=["embedded", "redis"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "embedded":
        return {}
    # Its own queue (and provider turns): tests sharing the Redis never meet.
    return {"redis_url": service_url("LW_TEST_REDIS_URL"), "job_queue": f"t-{uuid.uuid4().hex}"}


def readers() -> list[str]:
    """Users of this test alone (books on a shared Redis outlive a run)."""
    run = uuid.uuid4().hex[:8]
    return [f"reader-{run}-{n}" for n in range(USERS)]


async def burst(
    client: httpx.AsyncClient, fake: FakeOpenAI, users: list[str]
) -> list[dict[str, Any]]:
    """Every user starts a book, then writes page 1 at the same moment; their 202 bodies."""
    for user in users:
        await start(client, user)
    fake.images.rate_limit(PICTURES_PER_SECOND, per_seconds=1.0)
    fake.responses.rate_limit(REQUESTS_PER_SECOND, per_seconds=1.0)
    accepted = await asyncio.gather(
        *(
            client.post(
                "/v1/books/current/pages",
                json={"input": "a glowing map"},
                headers={**auth(user), **ASYNC},
            )
            for user in users
        )
    )
    assert [r.status_code for r in accepted] == [202] * USERS, accepted[0].text
    return [r.json() for r in accepted]


async def settled(client: httpx.AsyncClient, user: str) -> dict[str, Any]:
    """The user's book once page 1 is written and its picture drawn or failed."""
    async with asyncio.timeout(30):
        while True:
            response = await client.get("/v1/books/current", headers=auth(user))
            book: dict[str, Any] = response.json()
            pages = book["pages"]
            if book["state"] != "generating" and (
                not pages or pages[0]["image_status"] != "pending"
            ):
                return book
            await asyncio.sleep(0.1)


async def test_a_burst_waits_its_turn_and_meets_no_429(
    make_client: ClientFactory, fake_openai: FakeOpenAI, backend: dict[str, Any]
) -> None:
    client = await make_client(
        openai_api_key="test-key",
        openai_base_url=fake_openai.base_url,
        openai_max_retries=0,  # a 429 would fail the page: none may come
        **UNDER_THE_PROVIDER,
        **backend,
    )
    users = readers()
    accepted = await burst(client, fake_openai, users)

    turns = sorted(
        datetime.fromisoformat(body["queued_until"]) for body in accepted if body["queued_until"]
    )
    assert len(turns) >= USERS - 2  # all but the first wait their turn, and say so
    assert turns[-1] > turns[0]
    books = [await settled(client, user) for user in users]
    assert [len(b["pages"]) for b in books] == [1] * USERS
    assert all(b["pages"][0]["image_status"] == "ready" for b in books)
    assert all(b["queued_until"] is None for b in books)
    for endpoint in (fake_openai.images, fake_openai.responses):
        assert 429 not in [call.status for call in endpoint.calls]


async def test_without_the_providers_limits_the_same_burst_meets_429s(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await make_client(
        openai_api_key="test-key", openai_base_url=fake_openai.base_url, openai_max_retries=0
    )
    users = readers()
    accepted = await burst(client, fake_openai, users)

    assert all(body["queued_until"] is None for body in accepted)
    books = [await settled(client, user) for user in users]
    refused = [c for c in fake_openai.images.calls + fake_openai.responses.calls if c.status == 429]
    assert refused
    written_whole = [b for b in books if b["pages"] and b["pages"][0]["image_status"] == "ready"]
    assert len(written_whole) < USERS
