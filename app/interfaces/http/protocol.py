"""The HTTP/1.1 protocol `littlewriter serve` runs: uvicorn's httptools protocol, with bounds on a
request's head (its request line and headers) that uvicorn does not set itself:

- size: past `max_head_bytes` the request is answered 431 and the connection closed, having read
  at most that much and one more socket read (a 64 MB header is never held in memory);
- time: a head that has not arrived in full `head_timeout` seconds after the connection opened
  (or after its first byte, on a kept-alive connection) is answered 408 and closed, so a client
  that drips one header line every few seconds cannot hold a connection.

A reverse proxy in front should enforce the same (see the README's production section)."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.infrastructure.settings import Settings

_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


def _problem(status: int, code: str, detail: str) -> bytes:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": _REASONS[status],
            "status": status,
            "detail": detail,
            "code": code,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = 16_384
    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True
        self._head_bytes = 0
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused already: the rest of what was sent is not read
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self.max_head_bytes:
            self._refuse(431, "header_too_large", self._too_large())

    def on_message_begin(self) -> None:
        # A request begins (the first of a connection, or the next on a kept-alive one; the
        # wait before it is uvicorn's keep-alive timeout): its head is counted and timed anew.
        super().on_message_begin()
        self._reading_head = True
        self._head_bytes = 0
        if self._head_deadline is None:
            self._start_head_clock()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._stop_head_clock()
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_head_bytes:
            self._refuse(431, "header_too_large", self._too_large())
        if self.transport.is_closing():
            return  # refused: no request is made of it
        super().on_headers_complete()

    # What the parser still finds in the data it was fed after a refusal is dropped.
    def on_body(self, body: bytes) -> None:
        if not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.transport.is_closing():
            super().on_message_complete()

    def _too_large(self) -> str:
        return f"The request line and headers must be at most {self.max_head_bytes // 1024} KiB."

    def _start_head_clock(self) -> None:
        self._stop_head_clock()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self._reading_head and self._head_bytes > 0:
            self._refuse(408, "request_timeout", "The request's headers took too long to arrive.")
        elif self._reading_head and not self.transport.is_closing():
            self.transport.close()  # nothing sent at all: nothing to answer

    def _refuse(self, status: int, code: str, detail: str) -> None:
        self._stop_head_clock()
        if not self.transport.is_closing():
            self.transport.write(_problem(status, code, detail))
            self.transport.close()


class SettingsBoundedProtocol(BoundedHttpToolsProtocol):
    """The bounds of the settings (`LW_MAX_HEADER_BYTES`, `LW_HEADER_TIMEOUT_SECONDS`), read once
    per process at its first connection: `littlewriter serve` names this class to uvicorn, which
    imports it in each worker process (a class made at run time could not be sent there)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.max_head_bytes, self.head_timeout = _bounds_from_settings()
        super().__init__(*args, **kwargs)


@functools.cache
def _bounds_from_settings() -> tuple[int, float]:
    settings = Settings()
    return settings.max_header_bytes, settings.header_timeout_seconds


def bounded_protocol(*, max_head_bytes: int, head_timeout: float) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's `http` setting, with these bounds."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout},
    )
