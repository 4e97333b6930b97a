"""The event stream after the store lost the user's events (a Redis restart without persistence,
an embedded store restarted, keys gone): a `Last-Event-ID` the server can no longer account for
is answered with `resync`, then either the stream goes on or, with no book left, `book_gone`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

import tests.sse
from app.domain.values import UserId
from app.infrastructure.settings import Settings
from app.infrastructure.store.redis_books import RedisBookStore, events_key
from app.interfaces.composition import Overrides
from app.interfaces.http.app import create_app
from tests.api.conftest import auth, settings_for
from tests.api.test_events import PAGE_EVENTS, start, write_async
from tests.sse import Event, open_events, serving

EVENTS = "/v1/books/current/events"
LOST = {"reason": "events_lost"}
GONE = {"reason": "no_book_in_progress"}


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> list[FastAPI]:
    """Every app `serving` builds, to reach the store behind it."""
    made: list[FastAPI] = []

    def recording(settings: Settings, overrides: Overrides | None = None) -> FastAPI:
        made.append(create_app(settings, overrides))
        return made[-1]

    monkeypatch.setattr(tests.sse, "create_app", recording)
    return made


def redis_of(app: FastAPI) -> Redis:
    store = app.state.services.store
    assert isinstance(store, RedisBookStore)
    return store._redis


async def _served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


def _parse(body: str) -> tuple[list[Event], list[int]]:
    """The events and the `retry:` values of a whole stream, in order."""
    events: list[Event] = []
    retries: list[int] = []
    for block in filter(None, body.split("\n\n")):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "retry" in fields:
            retries.append(int(fields["retry"]))
        if "data" in fields:
            events.append(Event(fields.get("event", "message"), json.loads(fields["data"])))
    return events, retries


async def whole_stream(
    client: httpx.AsyncClient, last_event_id: str
) -> tuple[list[Event], list[int]]:
    """Read a stream to its end; a stream the server keeps open fails the test."""
    headers = {**auth(), "Last-Event-ID": last_event_id}
    async with asyncio.timeout(5):
        response = await client.get(EVENTS, headers=headers)
    assert response.status_code == 200, response.text
    return _parse(response.text)


async def page_written(client: httpx.AsyncClient, idea: str = "a glowing map") -> str:
    """Write a page asynchronously and wait for its events; the last event's id."""
    async with open_events(client, auth()) as events:
        assert (await write_async(client, idea)).status_code == 202
        await events.wait_for_name("page_done")
    last_id = events.events[-1].id
    assert last_id is not None
    return last_id


def assert_told_the_book_is_gone(events: list[Event], retries: list[int]) -> None:
    assert [(e.name, e.data) for e in events] == [("resync", LOST), ("book_gone", GONE)]
    assert retries[-1] >= 60_000  # a client that reconnects anyway waits long


async def assert_resynced_then_live(client: httpx.AsyncClient, last_id: str) -> None:
    async with open_events(client, {**auth(), "Last-Event-ID": last_id}) as resumed:
        await resumed.wait_for_name("resync")
        assert (await write_async(client, "a second idea")).status_code == 202
        await resumed.wait_for_name("page_done")
    assert resumed.names() == ["resync", *PAGE_EVENTS]
    assert resumed.events[0].data == LOST
    assert {e.data["page"] for e in resumed.events[1:]} == {2}


async def test_after_the_store_lost_everything_a_reconnect_is_told_the_book_is_gone(
    tmp_path: Path, apps: list[FastAPI]
) -> None:
    async for client in _served(settings_for(tmp_path / "data")):
        await start(client)
        last_id = await page_written(client)
        await redis_of(apps[0]).flushall()  # Redis restarted without persistence
        assert (await client.get("/v1/books/current", headers=auth())).status_code == 404
        assert_told_the_book_is_gone(*await whole_stream(client, last_id))


async def test_a_lost_stream_with_the_book_still_there_resyncs_and_goes_on(
    tmp_path: Path, apps: list[FastAPI]
) -> None:
    async for client in _served(settings_for(tmp_path / "data")):
        await start(client)
        last_id = await page_written(client)
        await redis_of(apps[0]).delete(events_key(UserId("alice")))
        await assert_resynced_then_live(client, last_id)


@pytest.mark.parametrize("book_kept", [True, False])
async def test_after_a_restart_of_the_embedded_store_a_reconnect_resyncs(
    tmp_path: Path, book_kept: bool
) -> None:
    """The embedded store keeps books across a restart but not event streams."""
    settings = settings_for(tmp_path / "data")
    async for client in _served(settings):
        await start(client)
        last_id = await page_written(client)
    if not book_kept:
        (settings.data_dir / "books-in-progress.json").unlink()
    async for client in _served(settings):
        if book_kept:
            await assert_resynced_then_live(client, last_id)
        else:
            assert_told_the_book_is_gone(*await whole_stream(client, last_id))
