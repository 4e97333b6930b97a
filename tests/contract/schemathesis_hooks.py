"""Schemathesis hooks for the conformance test (loaded with `SCHEMATHESIS_HOOKS`): the two
rules that no schema can express, applied to the valid requests schemathesis generates, as a
real client's requests meet them. Invalid (negative) requests are sent as generated.

- An Idempotency-Key names one request: a key sent again with a different request is refused
  422 `idempotency_key_reused`, which is right. Each valid key is replaced by a fresh one, as a
  client makes a key per request.
- Moderation refuses unsuitable words (422 `content_rejected`): the server in this test uses
  the offline word list, and random text meets it (a single Hangul syllable can be a swear
  word). Text that the list refuses is replaced by a kind word of the same rules."""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis

from app.infrastructure.generation.offline.moderation import is_unsuitable
from app.interfaces.http.idempotency import KEY_PATTERN

KIND_WORD = "fox"


def _suitable(value: Any) -> Any:
    if isinstance(value, str):
        return KIND_WORD if is_unsuitable(value) else value
    if isinstance(value, list):
        return [_suitable(item) for item in value]
    if isinstance(value, dict):
        return {key: _suitable(item) for key, item in value.items()}
    return value


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    # Editing a negative case makes schemathesis revalidate it against the headers' schema,
    # which has no Authorization, and send the token a missing-Authorization case is about.
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and re.fullmatch(KEY_PATTERN, str(value)):
            headers[name] = str(uuid.uuid4())
    if isinstance(case.body, (dict, list)) and _suitable(case.body) != case.body:
        case.body = _suitable(case.body)
