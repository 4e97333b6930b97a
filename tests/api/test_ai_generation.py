"""The whole service with its OpenAI generators, over HTTP, against the fake OpenAI server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import ClientFactory, assert_problem, auth, start, write
from tests.fake_openai import FakeOpenAI

pytest_plugins = ["tests.fake_openai"]


async def ai_client(make_client: ClientFactory, base_url: str, **changes: Any) -> httpx.AsyncClient:
    return await make_client(
        openai_api_key="test-key", openai_base_url=base_url, openai_max_retries=0, **changes
    )


@pytest.mark.parametrize("api_style", ["responses", "chat"])
async def test_a_whole_book_with_ai_generators_records_its_cost(
    make_client: ClientFactory, fake_openai: FakeOpenAI, api_style: str
) -> None:
    client = await ai_client(make_client, fake_openai.base_url, openai_api_style=api_style)
    book = await start(client, page_count=2)
    assert book["state"] == "bookInProgress" and 1 <= len(book["questions"]) <= 3
    assert (await write(client, "Momo finds a glowing map")).status_code == 200
    done = (await write(client, "they go home for cocoa")).json()
    assert done["state"] == "done" and done["questions"] == []
    assert all(page["text"] for page in done["pages"])

    structured = fake_openai.responses if api_style == "responses" else fake_openai.chat
    unused = fake_openai.chat if api_style == "responses" else fake_openai.responses
    # sheet + opening questions + page 1 + questions + page 2 (no questions after the last)
    assert structured.count == 5 and unused.count == 0
    assert fake_openai.images.count == 3  # the cover and two pages
    admin = await client.get("/v1/admin/users/alice/books/current", headers=auth("r", admin=True))
    usage = admin.json()["usage"]
    assert usage["images"] == 3 and usage["tokens_in"] > 0 and usage["tokens_out"] > 0
    finished = await client.post("/v1/books/current/finish", json={"title": "T"}, headers=auth())
    kept = await client.get(
        f"/v1/admin/books/{finished.json()['id']}", headers=auth("r", admin=True)
    )
    assert kept.json()["usage"] == usage


async def test_a_page_takes_the_critical_path_not_the_sum(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(make_client, fake_openai.base_url)
    await start(client, page_count=3)
    fake_openai.reset()
    text_delay, image_delay = 0.4, 0.6
    fake_openai.responses.delay(text_delay)  # the page text, then the questions: 0.8 s in a row
    fake_openai.images.delay(image_delay)  # the picture, meanwhile
    began = time.monotonic()
    response = await write(client, "a glowing map")
    wall = time.monotonic() - began
    assert response.status_code == 200
    critical_path = max(2 * text_delay, image_delay)
    serial = 2 * text_delay + image_delay
    assert critical_path <= wall < critical_path + 0.3 < serial
    text_call, questions_call = fake_openai.responses.calls
    (image_call,) = fake_openai.images.calls
    assert image_call.started < text_call.ended  # drawn while the text was written
    assert questions_call.started >= text_call.ended  # questions follow the text


async def test_a_flagged_idea_is_422_and_nothing_is_generated(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(make_client, fake_openai.base_url)
    book = await start(client)
    fake_openai.reset()
    fake_openai.moderations.flag("wolf bites")
    problem = assert_problem(await write(client, "the wolf bites Momo"), 422, "content_rejected")
    assert "different idea" in problem["detail"]
    assert fake_openai.responses.count == 0 and fake_openai.images.count == 0
    after = (await client.get("/v1/books/current", headers=auth())).json()
    assert after["version"] == book["version"] and after["pages"] == []


async def test_moderation_down_is_503_and_nothing_is_generated(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(make_client, fake_openai.base_url)
    await start(client)
    fake_openai.reset()
    fake_openai.moderations.fail(503, times=None)
    response = await write(client, "a friendly fox")
    assert_problem(response, 503, "dependency_unavailable")
    assert response.headers["retry-after"]
    assert fake_openai.responses.count == 0 and fake_openai.images.count == 0


async def test_a_failed_picture_keeps_the_page_text_and_is_drawn_again_on_request(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(make_client, fake_openai.base_url)
    await start(client)
    fake_openai.images.fail(500)
    response = await write(client, "a glowing map")
    assert response.status_code == 200
    [page] = response.json()["pages"]
    assert (page["input"], page["image_status"], page["image_url"]) == (
        "a glowing map",
        "failed",
        None,
    )
    redraw = await client.post("/v1/books/current/pages/1/illustration", headers=auth())
    assert redraw.status_code == 200, redraw.text
    assert redraw.json()["pages"][0]["image_status"] == "ready"


@pytest.mark.parametrize("failure", ["rate_limited", "malformed", "refusal"])
async def test_a_failed_page_is_502_the_book_is_unchanged_and_a_retry_succeeds(
    make_client: ClientFactory, fake_openai: FakeOpenAI, failure: str
) -> None:
    client = await ai_client(make_client, fake_openai.base_url)
    await start(client)
    if failure == "rate_limited":
        fake_openai.responses.fail(429)
    elif failure == "malformed":
        fake_openai.responses.malformed()
    else:
        fake_openai.responses.refuse("I can't help with that")
    assert_problem(await write(client, "a glowing map"), 502, "generation_failed")
    book = (await client.get("/v1/books/current", headers=auth())).json()
    assert book["state"] == "bookInProgress" and book["pages"] == []
    retry = await write(client, "a glowing map")
    assert retry.status_code == 200 and len(retry.json()["pages"]) == 1


async def test_a_page_past_its_deadline_is_502_and_the_book_is_writable_again(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(
        make_client,
        fake_openai.base_url,
        page_deadline_seconds=0.5,
        generation_lease_seconds=5,
    )
    await start(client)
    fake_openai.responses.delay(2.0)
    began = time.monotonic()
    assert_problem(await write(client, "a slow page"), 502, "generation_failed")
    assert time.monotonic() - began < 1.5
    fake_openai.responses.delay(0)
    book = (await client.get("/v1/books/current", headers=auth())).json()
    assert book["state"] == "bookInProgress" and book["pages"] == []
    fake_openai.images.delay(2.0)  # a picture past its deadline fails alone: the text is kept
    began = time.monotonic()
    slow_picture = await write(client, "a slow picture")
    assert time.monotonic() - began < 1.5
    assert [p["image_status"] for p in slow_picture.json()["pages"]] == ["failed"]
    fake_openai.images.delay(0)
    assert (await write(client, "a quick picture")).status_code == 200


async def test_concurrent_authors_share_one_client(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(make_client, fake_openai.base_url)
    users = [f"author{n}" for n in range(4)]
    await asyncio.gather(*(start(client, user) for user in users))
    fake_openai.reset()
    fake_openai.images.delay(0.2)
    responses = await asyncio.gather(*(write(client, "an idea", user) for user in users))
    assert [r.status_code for r in responses] == [200] * 4
    assert fake_openai.images.max_in_flight == 4


async def test_ai_text_with_offline_pictures_draws_nothing_through_the_api(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(make_client, fake_openai.base_url, openai_images=False)
    book = await start(client, page_count=1)
    page = await write(client, "the end")
    assert page.status_code == 200 and fake_openai.images.count == 0
    assert fake_openai.responses.count > 0
    picture = await client.get(page.json()["pages"][0]["image_url"])
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    assert book["cover_image_url"]
