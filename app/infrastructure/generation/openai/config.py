"""What the OpenAI adapters are told by the settings, and the one client they share."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import httpx2
from openai import AsyncOpenAI, DefaultAsyncHttpxClient, Timeout

from app.application.request_context import current_request_id
from app.infrastructure.generation.openai.calls import note_request_id

log = logging.getLogger(__name__)

ApiStyle = Literal["responses", "chat"]
_CONNECT_SECONDS = 5.0
CLIENT_REQUEST_ID_HEADER = "X-Client-Request-Id"


@dataclass(frozen=True)
class OpenAIConfig:
    api_style: ApiStyle = "responses"
    text_model: str = "gpt-4.1-mini"
    image_model: str = "gpt-image-1"
    moderation_model: str = "omni-moderation-latest"
    image_size: str = "1024x1024"
    image_quality: str = "medium"
    image_moderation: Literal["auto", "low"] = "auto"
    verbatim_pages: int = 2
    """How many of the latest pages a prompt carries word for word; older ones are summarised."""
    max_output_tokens: int = 800
    prompt_version: str = "v1"

    def __post_init__(self) -> None:
        if self.verbatim_pages < 1:
            raise ValueError("verbatim_pages must be at least 1")
        if self.max_output_tokens < 16:
            raise ValueError("max_output_tokens must be at least 16")


def build_openai_client(
    api_key: str, base_url: str | None, timeout_seconds: float, max_retries: int
) -> AsyncOpenAI:
    """The process's one client: explicit timeouts and retries, every HTTP attempt (retries
    included) logged with the provider's request id and sent with ours."""
    timeout = Timeout(timeout_seconds, connect=min(_CONNECT_SECONDS, timeout_seconds))
    http_client = DefaultAsyncHttpxClient(
        timeout=timeout,
        event_hooks={"request": [_name_our_request], "response": [_log_attempt]},
    )
    return AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        http_client=http_client,
    )


async def _name_our_request(request: httpx2.Request) -> None:
    # OpenAI keeps `X-Client-Request-Id` with its own logs: a support ticket can name either id.
    if (request_id := current_request_id()) is not None:
        request.headers[CLIENT_REQUEST_ID_HEADER] = request_id


async def _log_attempt(response: httpx2.Response) -> None:
    request_id = response.headers.get("x-request-id")
    note_request_id(request_id)
    # Method, path, status and request id only: a body could hold a child's words.
    log.info(
        "openai attempt %s %s -> %d request_id=%s",
        response.request.method,
        response.request.url.path,
        response.status_code,
        request_id,
    )
