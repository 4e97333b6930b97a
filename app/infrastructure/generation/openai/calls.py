"""One call to the provider, logged: what was called, how long it took, what it cost, and the
provider's request id. Never the prompt or anything the child typed: an error's own message
(a validation error quotes the model's output) is left out too."""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar

import openai
import pydantic

from app.domain.values import Usage

log = logging.getLogger(__name__)

# The request id of the latest HTTP answer in this task, noted by the client's response hook:
# a call whose output failed to parse has no result object to read it from.
_latest_request_id: ContextVar[str | None] = ContextVar("latest_request_id", default=None)


def note_request_id(request_id: str | None) -> None:
    _latest_request_id.set(request_id)


class Attempt:
    def __init__(self, call: str, model: str, api: str) -> None:
        self._call = call
        self._model = model
        self._api = api
        self._began = time.perf_counter()
        _latest_request_id.set(None)

    def succeeded(self, request_id: str | None, usage: Usage = Usage()) -> None:
        log.info(
            "openai %s ok: model=%s api=%s request_id=%s duration_ms=%d "
            "tokens_in=%d tokens_out=%d images=%d",
            self._call,
            self._model,
            self._api,
            request_id,
            self._elapsed_ms(),
            usage.tokens_in,
            usage.tokens_out,
            usage.images,
        )

    def failed(self, reason: str, request_id: str | None) -> str:
        """Logs the failure; returns a message fit for an error (and for the logs it lands in)."""
        log.warning(
            "openai %s failed: model=%s api=%s request_id=%s duration_ms=%d reason=%s",
            self._call,
            self._model,
            self._api,
            request_id,
            self._elapsed_ms(),
            reason,
        )
        return f"the {self._call} call to {self._model} {reason} (request id {request_id})"

    def raised(self, error: Exception) -> str:
        return self.failed(explain(error), request_id_of(error) or _latest_request_id.get())

    def _elapsed_ms(self) -> int:
        return round((time.perf_counter() - self._began) * 1000)


def explain(error: Exception) -> str:
    if isinstance(error, openai.APITimeoutError):
        return "timed out"
    if isinstance(error, openai.APIConnectionError):
        return "could not reach the server"
    if isinstance(error, openai.APIStatusError):
        if error.code == "moderation_blocked":
            return "was blocked by the provider's safety system"
        code = f" {error.code}" if error.code else ""
        return f"was answered with {error.status_code}{code}"
    if isinstance(error, openai.LengthFinishReasonError):
        return "stopped at the output length limit"
    if isinstance(error, openai.ContentFilterFinishReasonError):
        return "was stopped by the content filter"
    if isinstance(error, pydantic.ValidationError):
        return "gave malformed structured output"
    return f"failed ({type(error).__name__})"


def request_id_of(error: Exception) -> str | None:
    return error.request_id if isinstance(error, openai.APIStatusError) else None
