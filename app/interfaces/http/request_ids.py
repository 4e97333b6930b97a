"""`X-Request-ID`: every answer carries one (the client's, when valid, else a new one), and every
log line, problem and model call of the request (and of its jobs) names it."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.application.request_context import (
    accepted_request_id,
    bind_request_id,
    unbind_request_id,
)

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = [value for name, value in scope["headers"] if name == _HEADER_KEY]
        request_id = accepted_request_id(sent[0].decode("latin-1") if len(sent) == 1 else None)

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        token = bind_request_id(request_id)
        try:
            await self.app(scope, receive, with_id)
        finally:
            unbind_request_id(token)
