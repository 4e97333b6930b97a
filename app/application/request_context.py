"""The id of the request being served, for every log line, problem and provider call it causes.

A context variable: set once per request by the HTTP layer, copied by asyncio into every task the
request starts (its background jobs included), and set again by a job run elsewhere from the id
it was enqueued with."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

# What a client may send: short, visible, nothing that could break a log line or a header.
_VALID = re.compile(r"[A-Za-z0-9._~:/+=@-]{1,128}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def accepted_request_id(sent: str | None) -> str:
    """The client's id when it is a valid one, else a new one."""
    if sent is not None and _VALID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _current.get()


def bind_request_id(request_id: str | None) -> Token[str | None]:
    return _current.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _current.reset(token)
