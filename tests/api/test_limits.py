"""Rate limits and daily quotas over HTTP (embedded store: the scripts run on fakeredis)."""

from __future__ import annotations

import asyncio

import httpx

from app.application.errors import GenerationFailed
from app.interfaces.composition import Overrides
from tests.api.conftest import BOOK, ClientFactory, assert_problem, auth, start, write
from tests.unit.fakes import ScriptedContextGenerator, ScriptedIllustrator, reached


async def test_generations_over_the_users_rate_are_429_with_retry_after(
    make_client: ClientFactory,
) -> None:
    client = await make_client(rate_limit_generation="3/minute")
    await start(client, page_count=5)  # 1
    assert (await write(client, "one")).status_code == 200  # 2
    assert (await write(client, "two")).status_code == 200  # 3
    before = (await client.get("/v1/books/current", headers=auth())).json()
    refused = await write(client, "three")
    body = assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "minute" in body["detail"]
    assert (await client.get("/v1/books/current", headers=auth())).json() == before
    # Another user has a rate of their own.
    assert (await client.post("/v1/books", json=BOOK, headers=auth("bob"))).status_code == 201


async def test_a_failed_generation_is_not_counted(make_client: ClientFactory) -> None:
    writer = ScriptedContextGenerator()
    client = await make_client(
        Overrides(context_generator=writer), rate_limit_generation="2/minute"
    )
    await start(client, page_count=5)
    for _ in range(3):
        writer.script.fail_next(GenerationFailed("down"))
        assert_problem(await write(client, "idea"), 502, "generation_failed")
    assert (await write(client, "idea")).status_code == 200
    assert_problem(await write(client, "idea"), 429, "rate_limited")


async def test_the_users_daily_page_quota_is_429(make_client: ClientFactory) -> None:
    client = await make_client(quota_user_pages_per_day=2)
    await start(client, page_count=5)
    assert (await write(client, "one")).status_code == 200
    assert (await write(client, "two")).status_code == 200
    refused = await write(client, "three")
    body = assert_problem(refused, 429, "rate_limited")
    assert "today" in body["detail"] or "tomorrow" in body["detail"]
    assert int(refused.headers["retry-after"]) > 3600


async def test_the_whole_services_daily_picture_quota_is_429_for_everyone(
    make_client: ClientFactory,
) -> None:
    client = await make_client(quota_service_images_per_day=2)
    await start(client, "alice")  # the cover: 1
    await start(client, "bob")  # 2
    refused = await client.post("/v1/books", json=BOOK, headers=auth("carol"))
    assert_problem(refused, 429, "rate_limited")
    assert (await client.get("/v1/books/current", headers=auth("carol"))).status_code == 404


async def test_async_pages_are_limited_before_they_are_accepted(
    make_client: ClientFactory,
) -> None:
    client: httpx.AsyncClient = await make_client(rate_limit_generation="1/minute")
    await start(client)
    refused = await client.post(
        "/v1/books/current/pages",
        json={"input": "idea"},
        headers={**auth(), "Prefer": "respond-async"},
    )
    assert_problem(refused, 429, "rate_limited")
    book = (await client.get("/v1/books/current", headers=auth())).json()
    assert book["state"] == "bookInProgress" and book["pages"] == []


async def test_ten_starts_at_once_pay_for_one_cover_and_count_it(
    make_client: ClientFactory,
) -> None:
    """Claim first: the losers are refused before anything is generated or counted (409), and
    the one cover drawn is counted."""
    illustrator = ScriptedIllustrator()
    gate = illustrator.script.hold()
    client = await make_client(
        Overrides(illustrator=illustrator),
        rate_limit_generation="2/minute",
        quota_user_images_per_day=3,
    )
    first = asyncio.create_task(client.post("/v1/books", json=BOOK, headers=auth()))
    await reached(illustrator.script.started)
    others = await asyncio.gather(
        *(client.post("/v1/books", json=BOOK, headers=auth()) for _ in range(9))
    )
    gate.set()
    assert (await first).status_code == 201
    for refused in others:
        assert_problem(refused, 409, "book_already_in_progress")
    assert illustrator.script.calls == 1
    await client.delete("/v1/books/current", headers=auth())
    await start(client)  # the second generation of the minute: the refused ones took none
    await client.delete("/v1/books/current", headers=auth())
    assert_problem(await client.post("/v1/books", json=BOOK, headers=auth()), 429, "rate_limited")
    assert illustrator.script.calls == 2
