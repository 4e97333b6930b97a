"""The event stream and async, text-first pages, over a real HTTP server on the embedded store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.application.errors import GenerationFailed
from app.interfaces.composition import Overrides
from tests.api.conftest import BOOK, assert_problem, auth, make_token, settings_for
from tests.sse import open_events, serving
from tests.unit.fakes import FakeClock, ScriptedContextGenerator, ScriptedIllustrator

ASYNC = {"Prefer": "respond-async"}
PAGE_EVENTS = ["page_text", "questions", "image_ready", "page_done"]


@pytest.fixture
async def scripts() -> tuple[ScriptedContextGenerator, ScriptedIllustrator]:
    return ScriptedContextGenerator(), ScriptedIllustrator()


async def _client(
    tmp_path: Path, overrides: Overrides | None = None, **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serving(settings_for(tmp_path / "data", **changes), overrides) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(tmp_path):
        yield c


@pytest.fixture
async def scripted_client(
    tmp_path: Path, scripts: tuple[ScriptedContextGenerator, ScriptedIllustrator]
) -> AsyncIterator[httpx.AsyncClient]:
    writer, illustrator = scripts
    async for c in _client(tmp_path, Overrides(context_generator=writer, illustrator=illustrator)):
        yield c


async def start(client: httpx.AsyncClient, user: str = "alice", pages: int = 3) -> dict[str, Any]:
    response = await client.post(
        "/v1/books", json={**BOOK, "page_count": pages}, headers=auth(user)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def write_async(client: httpx.AsyncClient, idea: str, user: str = "alice") -> httpx.Response:
    return await client.post(
        "/v1/books/current/pages", json={"input": idea}, headers={**auth(user), **ASYNC}
    )


async def test_a_page_written_at_once_is_announced_in_order(client: httpx.AsyncClient) -> None:
    book = await start(client)
    async with open_events(client, auth()) as events:
        response = await client.post(
            "/v1/books/current/pages", json={"input": "a glowing map"}, headers=auth()
        )
        assert response.status_code == 200
        await events.wait_for_name("page_done")
    assert events.names() == PAGE_EVENTS
    assert all(e.data["book_id"] == book["id"] and e.data["page"] == 1 for e in events.events)
    text = events.events[0].data
    assert text["text"] == response.json()["pages"][0]["text"]
    assert events.events[2].data["image_url"].startswith("http")
    assert "image_key" not in events.events[2].data
    ids = [e.id or "" for e in events.events]
    assert all(ids) and ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    assert events.retry_ms == 3000


async def test_an_async_page_answers_202_at_once_then_text_first(
    scripted_client: httpx.AsyncClient,
    scripts: tuple[ScriptedContextGenerator, ScriptedIllustrator],
) -> None:
    _, illustrator = scripts
    await start(scripted_client)
    held = illustrator.script.hold()
    async with open_events(scripted_client, auth()) as events:
        response = await write_async(scripted_client, "a glowing map")
        assert response.status_code == 202
        assert response.headers["preference-applied"] == "respond-async"
        assert response.json()["state"] == "generating"
        await events.wait_for_name("questions")
        polled = (await scripted_client.get("/v1/books/current", headers=auth())).json()
        assert polled["state"] == "bookInProgress"
        assert polled["pages"][0]["image_status"] == "pending"
        assert polled["pages"][0]["image_url"] is None
        held.set()
        await events.wait_for_name("page_done")
    assert events.names() == PAGE_EVENTS
    done = (await scripted_client.get("/v1/books/current", headers=auth())).json()
    assert done["pages"][0]["image_status"] == "ready" and done["pages"][0]["image_url"]


async def test_a_failed_picture_is_drawn_again_and_then_the_book_finishes(
    scripted_client: httpx.AsyncClient,
    scripts: tuple[ScriptedContextGenerator, ScriptedIllustrator],
) -> None:
    _, illustrator = scripts
    await start(scripted_client, pages=1)
    illustrator.script.fail_next(GenerationFailed("the painter is out"))
    async with open_events(scripted_client, auth()) as events:
        assert (await write_async(scripted_client, "a glowing map")).status_code == 202
        await events.wait_for_name("generation_failed")
        failed = events.events[-1].data
        assert failed["stage"] == "illustration" and failed["page"] == 1
        book = (await scripted_client.get("/v1/books/current", headers=auth())).json()
        assert book["state"] == "done" and book["pages"][0]["image_status"] == "failed"
        text = book["pages"][0]["text"]
        refused = await scripted_client.post(
            "/v1/books/current/finish", json={"title": "Map"}, headers=auth()
        )
        assert_problem(refused, 409, "invalid_book_state")
        redraw = await scripted_client.post(
            "/v1/books/current/pages/1/illustration", headers=auth()
        )
        assert redraw.status_code == 200, redraw.text
        page = redraw.json()["pages"][0]
        assert page["image_status"] == "ready" and page["text"] == text
        await events.wait_for_name("book_done")
    finished = await scripted_client.post(
        "/v1/books/current/finish", json={"title": "Map"}, headers=auth()
    )
    assert finished.status_code == 201


async def test_redrawing_a_ready_picture_or_a_missing_page_is_refused(
    client: httpx.AsyncClient,
) -> None:
    await start(client)
    await client.post("/v1/books/current/pages", json={"input": "idea"}, headers=auth())
    before = (await client.get("/v1/books/current", headers=auth())).json()
    ready = await client.post("/v1/books/current/pages/1/illustration", headers=auth())
    assert_problem(ready, 409, "invalid_book_state")
    missing = await client.post("/v1/books/current/pages/2/illustration", headers=auth())
    assert_problem(missing, 404, "page_not_found")
    out_of_range = await client.post("/v1/books/current/pages/0/illustration", headers=auth())
    assert_problem(out_of_range, 422, "validation_error")
    assert (await client.get("/v1/books/current", headers=auth())).json() == before


async def test_an_async_text_failure_gives_the_book_back(
    scripted_client: httpx.AsyncClient,
    scripts: tuple[ScriptedContextGenerator, ScriptedIllustrator],
) -> None:
    writer, _ = scripts
    await start(scripted_client)
    writer.script.fail_next(GenerationFailed("the writer is out"))
    async with open_events(scripted_client, auth()) as events:
        assert (await write_async(scripted_client, "a glowing map")).status_code == 202
        await events.wait_for_name("generation_failed")
    assert events.events[-1].data["stage"] == "text"
    book = (await scripted_client.get("/v1/books/current", headers=auth())).json()
    assert book["state"] == "bookInProgress" and book["pages"] == []
    assert (await write_async(scripted_client, "again")).status_code == 202


async def test_a_reconnect_with_last_event_id_resumes_without_loss(
    client: httpx.AsyncClient,
) -> None:
    await start(client)
    async with open_events(client, auth()) as events:
        await client.post("/v1/books/current/pages", json={"input": "one"}, headers=auth())
        await events.wait_for_name("page_done")
    last_id = events.events[-1].id
    assert last_id is not None
    # Written while no stream is open:
    await client.post("/v1/books/current/pages", json={"input": "two"}, headers=auth())
    async with open_events(client, {**auth(), "Last-Event-ID": last_id}) as resumed:
        await resumed.wait_for_name("page_done")
        await client.post("/v1/books/current/pages", json={"input": "three"}, headers=auth())
        await resumed.wait_for_name("book_done")
    last_page = ["page_text", "image_ready", "page_done", "book_done"]  # no questions after it
    assert resumed.names() == [*PAGE_EVENTS, *last_page]
    assert [e.data.get("page") for e in resumed.events[:7]] == [2] * 4 + [3] * 3


async def test_a_stream_without_an_id_starts_at_the_newest_event(
    client: httpx.AsyncClient,
) -> None:
    await start(client)
    await client.post("/v1/books/current/pages", json={"input": "one"}, headers=auth())
    async with open_events(client, auth()) as events:
        await client.post("/v1/books/current/pages", json={"input": "two"}, headers=auth())
        await events.wait_for_name("page_done")
    assert {e.data["page"] for e in events.events} == {2}


async def test_a_future_event_id_asks_the_client_to_resync(client: httpx.AsyncClient) -> None:
    await start(client)
    await client.post("/v1/books/current/pages", json={"input": "one"}, headers=auth())
    headers = {**auth(), "Last-Event-ID": "99999999999999-0"}
    async with open_events(client, headers) as events:
        await events.wait_for_name("resync")
        await client.post("/v1/books/current/pages", json={"input": "two"}, headers=auth())
        await events.wait_for_name("page_done")
    assert events.events[0].data == {"reason": "unknown_event_id"}
    assert {e.data.get("page") for e in events.events[1:]} == {2}


async def test_an_id_older_than_what_is_kept_resyncs_and_sends_what_is_kept(
    tmp_path: Path,
) -> None:
    async for client in _client(tmp_path, events_retention=10):
        await start(client, pages=5)
        for n in range(4):  # 16 events: the first 6 are trimmed
            await client.post("/v1/books/current/pages", json={"input": f"i{n}"}, headers=auth())
        async with open_events(client, {**auth(), "Last-Event-ID": "1-0"}) as events:
            await events.wait_for(lambda e: len(e) >= 11)
        assert events.events[0].name == "resync"
        assert events.events[0].data == {"reason": "events_expired"}
        assert len(events.events) == 11


async def test_an_id_of_milliseconds_alone_reads_as_its_first_sequence_number(
    client: httpx.AsyncClient,
) -> None:
    """`<ms>` is `<ms>-0`: the stream resumes after that event, not after all of its millisecond,
    and `0` (older than any event) sends every event kept, after a `resync`."""
    await start(client, pages=2)
    async with open_events(client, auth()) as first:
        await client.post("/v1/books/current/pages", json={"input": "a fox"}, headers=auth())
        await first.wait_for_name("page_done")
    sent = [e for e in first.events if e.id is not None]
    milliseconds, sequence = sent[0].id.split("-")  # type: ignore[union-attr]
    assert sequence == "0"
    async with open_events(client, {**auth(), "Last-Event-ID": milliseconds}) as resumed:
        await resumed.wait_for(lambda events: len(events) >= len(sent) - 1)
    assert [e.id for e in resumed.events] == [e.id for e in sent[1:]]
    async with open_events(client, {**auth(), "Last-Event-ID": "0"}) as everything:
        await everything.wait_for(lambda events: len(events) >= len(sent) + 1)
    assert everything.events[0].name == "resync"
    assert everything.events[0].data == {"reason": "events_expired"}
    assert [e.id for e in everything.events[1:]] == [e.id for e in sent]


async def test_every_event_asked_of_a_user_with_none_yet_is_no_resync(
    client: httpx.AsyncClient,
) -> None:
    """Nothing was ever sent, so nothing was missed: no `resync`, no `book_gone`."""
    await start(client, pages=2)
    async with open_events(client, {**auth(), "Last-Event-ID": "0"}) as events:
        await client.post("/v1/books/current/pages", json={"input": "a fox"}, headers=auth())
        await events.wait_for_name("page_done")
    assert events.names()[:2] == ["page_text", "questions"]


@pytest.mark.parametrize("bad", ["nope", "1-", "-1", "1-2-3", "1 2", "x" * 100, "1" * 20])
async def test_a_malformed_last_event_id_is_400(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get(
        "/v1/books/current/events", headers={**auth(), "Last-Event-ID": bad}
    )
    assert_problem(response, 400, "bad_request")


async def test_the_events_endpoint_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/books/current/events"), 401, "unauthorized")


async def test_a_flood_of_streams_is_429_and_closed_streams_free_their_place(
    tmp_path: Path,
) -> None:
    async for client in _client(tmp_path, events_max_streams_per_user=2):
        async with open_events(client, auth()), open_events(client, auth()):
            third = await client.get("/v1/books/current/events", headers=auth())
            assert_problem(third, 429, "rate_limited")
            assert int(third.headers["retry-after"]) >= 1
            async with open_events(client, auth("bob")):  # other users are not affected
                pass
        for _ in range(50):  # the server sees the disconnects shortly after
            async with open_events(client, auth()), open_events(client, auth()):
                return
            await asyncio.sleep(0.05)


async def test_events_are_only_the_callers_own(client: httpx.AsyncClient) -> None:
    await start(client, "alice")
    await start(client, "bob")
    async with open_events(client, auth("bob")) as bobs:
        await client.post("/v1/books/current/pages", json={"input": "one"}, headers=auth())
        await client.post("/v1/books/current/pages", json={"input": "b"}, headers=auth("bob"))
        await bobs.wait_for_name("page_done")
        await asyncio.sleep(0.1)
    assert len(bobs.events) == 4


async def test_a_stream_ends_when_its_token_expires_and_asks_for_a_reconnect(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async for client in _client(tmp_path, Overrides(clock=clock), events_heartbeat_seconds=0.2):
        await start(client)
        token = make_token("alice", exp=int(time.time()) + 60)
        async with open_events(client, {"Authorization": f"Bearer {token}"}) as stream:
            await stream.wait_for(lambda _: stream.comments >= 1)  # open, heartbeating
            clock.advance(seconds=61)
            await stream.wait_for_name("token_expired", seconds=5)
            assert stream.events[-1].data == {"reason": "token_expired"}
            assert stream.retry_ms == 3000
            await asyncio.wait_for(stream.ended(), 5)
        # A fresh token opens the stream again.
        async with open_events(client, auth()) as again:
            await again.wait_for(lambda _: again.comments >= 1)
