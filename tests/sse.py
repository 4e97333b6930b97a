"""Reading Server-Sent Events in tests, and serving the app on a real port (httpx's ASGI
transport buffers whole responses, so a stream needs a real server)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from pydantic import ValidationError

from app.application.ports import SENT_EVENT_ID_PATTERN
from app.infrastructure.settings import Settings
from app.interfaces.composition import Overrides
from app.interfaces.http.app import create_app
from app.interfaces.http.event_schemas import EVENTS
from tests.processes import free_port


@dataclass
class Event:
    name: str
    data: dict[str, Any]
    id: str | None = None


def undocumented(event: Event) -> list[str]:
    """How an event differs from what the OpenAPI document says of it (every stream read in the
    tests is checked against it)."""
    if event.name not in EVENTS:
        return [f"{event.name}: not a documented event"]
    model, has_id = EVENTS[event.name]
    problems = []
    try:
        model.model_validate(event.data, strict=True)  # "5" is not the integer the doc says
    except ValidationError as error:
        problems.append(f"{event.name}: {error}")
    sent_id = event.id is not None and re.fullmatch(SENT_EVENT_ID_PATTERN, event.id) is not None
    if sent_id != has_id:
        problems.append(f"{event.name}: id {event.id!r}")
    return problems


@dataclass
class EventReader:
    """Collects the events of one open stream in the background."""

    response: httpx.Response
    events: list[Event] = field(default_factory=list)
    undocumented: list[str] = field(default_factory=list)
    comments: int = 0
    retry_ms: int | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        name, data, event_id = "message", "", None
        async for line in self.response.aiter_lines():
            if line == "":
                if data:
                    event = Event(name, json.loads(data), event_id)
                    self.undocumented.extend(undocumented(event))
                    self.events.append(event)
                    self._arrived.set()
                name, data, event_id = "message", "", None
            elif line.startswith(":"):
                self.comments += 1
                self._arrived.set()
            elif line.startswith("retry:"):
                self.retry_ms = int(line.split(":", 1)[1])
            elif line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data += line.split(":", 1)[1].strip()
            elif line.startswith("id:"):
                event_id = line.split(":", 1)[1].strip()
        self._arrived.set()

    def names(self) -> list[str]:
        return [e.name for e in self.events]

    def assert_documented(self) -> None:
        assert not self.undocumented, self.undocumented

    async def wait_for(self, done: Callable[[list[Event]], bool], seconds: float = 10) -> None:
        async with asyncio.timeout(seconds):
            while not done(self.events):
                self._arrived.clear()
                if done(self.events):
                    break
                assert self._task is not None
                if self._task.done():
                    self.assert_documented()
                    raise AssertionError(f"the stream ended; events so far: {self.names()}")
                await self._arrived.wait()
        self.assert_documented()

    async def wait_for_name(self, name: str, count: int = 1, seconds: float = 10) -> None:
        await self.wait_for(lambda events: [e.name for e in events].count(name) >= count, seconds)

    async def ended(self) -> None:
        """Until the server ends the stream."""
        assert self._task is not None
        await asyncio.shield(self._task)
        self.assert_documented()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self._task
        await self.response.aclose()


@contextlib.asynccontextmanager
async def open_events(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> AsyncIterator[EventReader]:
    request = client.build_request("GET", "/v1/books/current/events", headers=headers)
    response = await client.send(request, stream=True)
    assert response.status_code == 200, (await response.aread()).decode()
    reader = EventReader(response)
    reader.start()
    try:
        yield reader
    finally:
        await reader.close()
    reader.assert_documented()  # every event the test read, whatever it waited for


@contextlib.asynccontextmanager
async def serving(settings: Settings, overrides: Overrides | None = None) -> AsyncIterator[str]:
    """The app on a free loopback port, in this event loop; yields its base URL."""
    port = free_port()
    # As `littlewriter serve` runs it: the app's own logging, not uvicorn's, which would
    # reconfigure this test process's loggers for the tests that follow.
    config = uvicorn.Config(
        create_app(settings, overrides), host="127.0.0.1", port=port, log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
