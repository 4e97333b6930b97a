"""The event stream of the user's book (Server-Sent Events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from app.application.ports import EVENT_ID_PATTERN
from app.domain.values import UserId
from app.interfaces.http.dependencies import Links, PrincipalDep, ServicesDep
from app.interfaces.http.event_stream import StreamSlots, Watch, checked_event_id, event_stream
from app.interfaces.http.problems import PROBLEM_JSON
from app.interfaces.http.schemas import ProblemOut

_problem = {"model": ProblemOut, "content": {PROBLEM_JSON: {}}}
router = APIRouter(prefix="/v1/books", tags=["events"])

EVENTS_DOC = """Server-Sent Events for the caller's book, from any server process.

Events: `page_text`, `questions`, `image_ready`, `page_done`, `generation_failed`, `book_done`
(each with an `id`; JSON `data` holds `book_id`, `version`, and `page` for a page's events),
plus `resync` (no id) when the client should read `GET /v1/books/current` again. Reconnect with
`Last-Event-ID` to resume without loss. A comment line is sent every heartbeat.

When the events after that id are gone (the store lost them) and so is the book in progress,
`resync` is followed by `book_gone` (no id; `data: {"reason":"no_book_in_progress"}`) and a long
`retry:`, and the stream ends: stop reconnecting, read `GET /v1/books/current` (404) and offer to
start a new book.

When the token the stream was opened with expires, the stream sends `token_expired` (no id;
`data: {"reason":"token_expired"}`) and `retry: 3000`, and ends: reconnect with a fresh token
and the `Last-Event-ID` you have; nothing is lost."""


@router.get(
    "/current/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "The stream; it stays open until the client closes it (or the "
            "server ends it after `book_gone` or `token_expired`). Its schema describes one "
            "event; `data` is JSON, described by `contentSchema`.",
        },
        400: _problem,
        401: _problem,
        429: _problem,
        503: _problem,
    },
    summary="Watch the book in progress",
    description=EVENTS_DOC,
)
async def book_events(
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    link: Links,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The id of the last event received: the stream resumes after it.",
            json_schema_extra={"pattern": EVENT_ID_PATTERN},
        ),
    ] = None,
) -> StreamingResponse:
    user = UserId(principal.user_id)
    watch = Watch(user, checked_event_id(last_event_id), principal.expires_at)
    slots: StreamSlots = request.app.state.stream_slots
    slots.check(user)
    stream = event_stream(
        services.events,
        services.store,
        slots,
        watch,
        clock=services.clock,
        link=link,
        heartbeat=services.settings.events_heartbeat_seconds,
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
