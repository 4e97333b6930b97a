"""A fake OpenAI server on loopback, for driving the real `openai` SDK over real HTTP.

The SDK 3.x talks through `httpx2`, which respx cannot intercept, so the adapters are tested
against this server instead: a Starlette app served by uvicorn in a background thread on
127.0.0.1 with a free port. Use it as a pytest plugin (`pytest_plugins = ["tests.fake_openai"]`)
for the fixtures, or on its own with `with FakeOpenAI.running() as fake: ...`.

Fixtures
    fake_openai            one server per session, reset before and after each test (function scope)
    fake_openai_server     the session's server itself (not reset; prefer `fake_openai`)
    fake_openai_url_down   a base_url on a port that refuses connections (held for the test)

Cheat sheet (every scripting method returns the endpoint, so calls chain)
    client = fake.client(max_retries=0)   # AsyncOpenAI(api_key="test", base_url=fake.base_url, ...)
    fake.base_url                         # "http://127.0.0.1:PORT/v1"

    Endpoints: fake.responses (POST /v1/responses), fake.chat (POST /v1/chat/completions),
               fake.images (POST /v1/images/generations), fake.moderations (POST /v1/moderations)

    Queued, one per call, in order (when the queue is empty the call succeeds with the default);
    fake.chat has the same methods as fake.responses:
    fake.responses.reply({"title": "..."})      # JSON text of the payload (a str is sent verbatim,
                                                # a pydantic model as its JSON, a callable is given
                                                # the request body and its result used)
    fake.responses.reply(p, input_tokens=12, output_tokens=34)     # usage to report
    fake.responses.malformed()                  # output text that is not JSON at all
    fake.responses.malformed('{"title": 1}')    # or any text, e.g. JSON missing a field
    fake.responses.refuse("I can't help with that")   # responses: a "refusal" content item
                                                      # chat: message.refusal, content null
                                                      # images: 400 code "moderation_blocked"
    fake.responses.truncate()                   # cut at max_output_tokens (chat: finish "length")
    fake.images.reply(b"raw bytes")             # b64_json of these bytes instead of a PNG
    fake.<endpoint>.fail(429, times=1, headers={"retry-after-ms": "1"})  # OpenAI-shaped error
    fake.<endpoint>.fail(500, times=None)       # every call fails until reset()
    fake.<endpoint>.fail(400, message=..., type=..., code=..., param=...)

    Sticky until changed or reset:
    fake.<endpoint>.delay(0.3)                  # sleep before answering (from arrival)
    fake.<endpoint>.rate_limit(2, per_seconds=1.0)   # 429 rate_limit_exceeded for a call
                                                     # beyond 2 answered in any 1 s
    fake.moderations.flag("wolf", "knife", category="violence")  # inputs containing these
    fake.structured_default = lambda schema_name, request: {...}  # default JSON payload
    fake.validate_schemas = False               # skip the strict-mode schema check (see below)

    Call log (thread-safe snapshots):
    fake.responses.requests        # parsed JSON bodies, in arrival order
    fake.responses.calls           # Call(request, headers, started, ended, status, request_id)
    fake.responses.count           # number of calls received
    fake.responses.max_in_flight   # most calls handled at the same time (proves concurrency)
    fake.responses.wait_for(2, timeout=5.0)   # block until 2 calls have arrived
    fake.images.moderation_levels  # the `moderation` parameter of each image request
    fake.reset()                   # queues, delays, flags, logs and the default back to new
    fake.errors                    # exceptions inside the fake (e.g. a reply callable that
                                   # raised: the client got a 500); the fixture fails on them

Defaults: a structured request (`text.format` / `response_format` of type json_schema) gets a
payload generated from its schema by `example_from_schema` (valid for what pydantic emits: refs,
nullable unions, enums, string/number/array bounds; not for `pattern`); a plain request gets a
short story sentence. Images are a real PNG (or jpeg/webp/gif per `output_format`) of the
requested `size`, `n` of them, always as `b64_json`. Moderations flag nothing unless told to.
Every response, errors included, carries a unique `x-request-id` ("req_fake_<n>").

Start-up: about 30 ms cold (2 ms warm); stopping takes about 200 ms (uvicorn's shutdown sleeps),
which is why the fixture keeps one server per session and resets it around each test.

Strict schemas: when a json_schema request says `"strict": true`, the fake refuses (400
invalid_request_error, like OpenAI) a schema whose objects lack `additionalProperties: false` or
do not list every property in `required`. The SDK's `parse(text_format=Model)` /
`parse(response_format=Model)` produces a valid one, except for `dict[str, X]` fields: the SDK
keeps `additionalProperties: {X}` there, and strict mode refuses it (BadRequestError).

What the SDK (openai 3.54) raises, so the adapters know what to catch:
    429                                    openai.RateLimitError          (after max_retries)
    500 and any 5xx                        openai.InternalServerError     (after max_retries)
    400 (incl. images "moderation_blocked") openai.BadRequestError; `.code` holds the error code
    other 4xx                              the matching openai.APIStatusError subclass
    nothing listening / connection reset   openai.APIConnectionError
    client timeout (delay > timeout)       openai.APITimeoutError (a subclass of APIConnectionError)
    malformed output, either API           pydantic.ValidationError from `.parse()` (not an
                                           openai error: `model_validate_json` fails; both "not
                                           JSON" and "missing field" raise it)
    truncate() on chat                     openai.LengthFinishReasonError from `.parse()`
    truncate() on responses                pydantic.ValidationError (the SDK does not look at
                                           `status: "incomplete"`; the cut JSON fails to parse)
    refusals                               no exception: responses -> `output_parsed is None` and
                                           a content item with type "refusal"; chat ->
                                           `message.refusal` set, `message.parsed is None`
Status errors carry `.request_id` (the x-request-id), `.status_code`, `.code`, `.type`, `.body`
(the inner "error" object). Successful results carry `._request_id`.
A call still waiting in `delay()` when the fake is reset or stopped gets a 503.

PYTEST_DONT_REWRITE (no asserts here; lets test modules import this before `pytest_plugins`).

Retries: with max_retries > 0 the SDK retries 408/409/429/5xx. A `retry-after: 0` header does NOT
mean "retry at once": the SDK only honours 0 < retry-after <= 120 s and otherwise backs off 0.5 s
(times 0.75-1 jitter, doubling). Send `retry-after-ms: 1` to make a retry test fast.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import io
import itertools
import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import pydantic
import pytest
import uvicorn
from PIL import Image as PILImage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from openai import AsyncOpenAI

StructuredDefault = Callable[[str | None, dict[str, Any]], Any]
"""(schema name or None for a plain-text request, request body) -> the payload to answer with."""

DEFAULT_STORY_TEXT = "Once upon a time, a little rabbit with a red scarf found a door in the snow."
_START_TIMEOUT = 10.0

# --------------------------------------------------------------------------------------------
# Scripted outcomes (one is consumed per call; none queued means the default success)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    payload: Any
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class _Fail:
    status: int
    message: str | None
    type: str | None
    code: str | None
    param: str | None
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _Malformed:
    text: str


@dataclass(frozen=True)
class _Refuse:
    message: str


@dataclass(frozen=True)
class _Truncate:
    payload: Any


@dataclass(frozen=True)
class _Image:
    data: bytes


_Outcome = _Reply | _Fail | _Malformed | _Refuse | _Truncate | _Image


@dataclass
class Call:
    """One request as the fake saw it; `started`/`ended` are `time.monotonic()` readings."""

    request: Any
    headers: dict[str, str]
    started: float
    request_id: str
    ended: float | None = None
    status: int | None = None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


class _Answer:
    """What a handler decided to send; the endpoint adds the bookkeeping headers."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


# --------------------------------------------------------------------------------------------
# OpenAI-shaped errors
# --------------------------------------------------------------------------------------------

_ERROR_DEFAULTS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (scripted by the fake)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: test."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    409: ("invalid_request_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. "
        "Please try again in 20ms.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_body(
    status: int,
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """`{"error": {...}}` as OpenAI sends it; the defaults depend on the status."""
    default_type, default_code, default_message = _ERROR_DEFAULTS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
    )
    return {
        "error": {
            "message": message if message is not None else default_message,
            "type": type if type is not None else default_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


def _error(
    status: int,
    message: str,
    *,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> _Answer:
    return _Answer(status, error_body(status, message, type, code, param))


# --------------------------------------------------------------------------------------------
# JSON schema helpers (public: the adapter tests may want them)
# --------------------------------------------------------------------------------------------


def requested_schema(request: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool] | None:
    """(name, schema, strict) of a structured-output request to either API, else None."""
    text = request.get("text")
    if isinstance(text, Mapping):
        fmt = text.get("format")
        if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
            return str(fmt.get("name", "")), dict(fmt.get("schema") or {}), bool(fmt.get("strict"))
    response_format = request.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        return str(spec.get("name", "")), dict(spec.get("schema") or {}), bool(spec.get("strict"))
    return None


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node  # type: ignore[no-any-return]


def example_from_schema(
    schema: Mapping[str, Any],
    *,
    root: Mapping[str, Any] | None = None,
    hint: str = "",
    depth: int = 0,
) -> Any:
    """A small value that satisfies `schema` (as pydantic and the SDK's strict mode write it)."""
    root = schema if root is None else root
    deep = depth > 6
    if "$ref" in schema:
        return example_from_schema(
            _resolve(root, schema["$ref"]), root=root, hint=hint, depth=depth + 1
        )
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options: list[Mapping[str, Any]] = list(schema[key])
            non_null = [o for o in options if o.get("type") != "null"]
            nulls = [o for o in options if o.get("type") == "null"]
            chosen = nulls[0] if deep and nulls else (non_null or options)[0]
            return example_from_schema(chosen, root=root, hint=hint, depth=depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(root, part["$ref"]) if "$ref" in part else part)
        merged.update({k: v for k, v in schema.items() if k != "allOf"})
        return example_from_schema(merged, root=root, hint=hint, depth=depth + 1)

    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if (deep and "null" in kind) or not kinds:
            return None
        kind = kinds[0]
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"

    if kind == "object":
        properties: Mapping[str, Any] = schema.get("properties", {})
        return {
            name: example_from_schema(sub, root=root, hint=name, depth=depth + 1)
            for name, sub in properties.items()
        }
    if kind == "array":
        prefix: list[Mapping[str, Any]] = list(schema.get("prefixItems", []))
        count = max(int(schema.get("minItems", 0)), 0 if deep else 1, len(prefix))
        if schema.get("maxItems") is not None:
            count = min(count, int(schema["maxItems"]))
        items: Mapping[str, Any] = schema.get("items") or {}
        return [
            example_from_schema(
                prefix[i] if i < len(prefix) else items, root=root, hint=hint, depth=depth + 1
            )
            for i in range(count)
        ]
    if kind == "string":
        return _example_string(schema, hint)
    if kind in ("integer", "number"):
        return _example_number(schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    return None


def _example_string(schema: Mapping[str, Any], hint: str) -> str:
    formats = {
        "date-time": "2025-01-01T00:00:00Z",
        "date": "2025-01-01",
        "time": "00:00:00",
        "email": "child@example.com",
        "uri": "https://example.com/",
        "uuid": "00000000-0000-4000-8000-000000000000",
    }
    if schema.get("format") in formats:
        return formats[schema["format"]]
    base = f"example {hint}".strip() if hint else "example"
    minimum = int(schema.get("minLength", 0))
    text = base
    while len(text) < minimum:
        text += " " + base
    if schema.get("maxLength") is not None:
        text = text[: int(schema["maxLength"])]
    return text


def _example_number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    value: float = 1
    step = 1 if integer else 0.5
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if "exclusiveMinimum" in schema:
        value = max(value, schema["exclusiveMinimum"] + step)
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    if "exclusiveMaximum" in schema:
        value = min(value, schema["exclusiveMaximum"] - step)
    return math.ceil(value) if integer else float(value)


def strict_schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Why OpenAI's strict mode would refuse this schema (the two classic mistakes), or None."""
    if schema.get("type") != "object":
        got = schema.get("type")
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."
    return _strict_problem(schema, ())


def _strict_problem(schema: Any, context: tuple[str, ...]) -> str | None:
    if not isinstance(schema, Mapping):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={context}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        required = schema.get("required", [])
        missing = [name for name in schema.get("properties", {}) if name not in required]
        if missing:
            return (
                f"In context={context}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing '{missing[0]}'."
            )
    children: list[tuple[tuple[str, ...], Any]] = []
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            children.append(((*context, key, name), sub))
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, sub in enumerate(schema.get(key) or []):
            children.append(((*context, key, str(index)), sub))
    for key in ("items", "not", "additionalProperties"):
        children.append(((*context, key), schema.get(key)))
    for where, sub in children:
        problem = _strict_problem(sub, where)
        if problem:
            return problem
    return None


def default_structured_payload(schema_name: str | None, request: dict[str, Any]) -> Any:
    """The default `structured_default`: a value valid for the requested schema, else a story."""
    requested = requested_schema(request)
    if schema_name is None or requested is None:
        return DEFAULT_STORY_TEXT
    return example_from_schema(requested[1])


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF"}


@functools.lru_cache(maxsize=16)
def fake_image(width: int = 64, height: int = 64, output_format: str = "png") -> bytes:
    """A real picture (a pale sky over green grass) encoded as `output_format`."""
    picture = PILImage.new("RGB", (width, height), (200, 225, 245))
    picture.paste((120, 190, 110), (0, height * 2 // 3, width, height))
    buffer = io.BytesIO()
    picture.save(buffer, format=_PIL_FORMATS[output_format])
    return buffer.getvalue()


def _image_size(size: Any) -> tuple[int, int] | None:
    if size in (None, "auto"):
        return 1024, 1024
    width, sep, height = str(size).partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        return None
    if not (0 < int(width) <= 4096 and 0 < int(height) <= 4096):
        return None
    return int(width), int(height)


# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------


def _tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return max(1, len(text) // 4)


def _payload_text(payload: Any, request: dict[str, Any]) -> str:
    if callable(payload):
        payload = payload(request)
    if isinstance(payload, str):
        return payload
    if isinstance(payload, pydantic.BaseModel):
        return payload.model_dump_json()
    return json.dumps(payload, ensure_ascii=False)


_RATE_CODE = "rate_limit_exceeded"


class Endpoint:
    """Scripting, call log and dispatch shared by every endpoint."""

    path: str = ""

    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake
        self._cond = fake._cond
        self._queue: deque[_Outcome] = deque()
        self._always: _Outcome | None = None
        self._delay = 0.0
        self._rate: tuple[int, float] | None = None
        self._admitted: deque[float] = deque()  # arrivals inside the rate's window
        self._calls: list[Call] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._generation = 0

    # -- scripting ----------------------------------------------------------------------------

    def fail(
        self,
        status: int = 500,
        *,
        times: int | None = 1,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Self:
        """The next `times` calls answer with an OpenAI error (`times=None`: every call)."""
        outcome = _Fail(status, message, type, code, param, dict(headers or {}))
        with self._cond:
            if times is None:
                self._always = outcome
            else:
                self._queue.extend([outcome] * times)
        return self

    def rate_limit(self, calls: int, per_seconds: float) -> Self:
        """From now on, a call arriving when `calls` calls were answered within the last
        `per_seconds` is refused with 429 `rate_limit_exceeded`, as OpenAI does above an
        account's limits (refused calls do not count)."""
        with self._cond:
            self._rate = (calls, per_seconds)
        return self

    def delay(self, seconds: float) -> Self:
        """Every call from now on waits `seconds` before answering (0 to stop)."""
        with self._cond:
            self._delay = seconds
        return self

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self._always = None
            self._delay = 0.0
            self._rate = None
            self._admitted.clear()
            self._calls = []
            self._in_flight = 0
            self._max_in_flight = 0
            self._generation += 1
            self._reset_extra()

    def _reset_extra(self) -> None:
        """Endpoint-specific sticky state."""

    def _enqueue(self, outcome: _Outcome) -> None:
        with self._cond:
            self._queue.append(outcome)

    # -- call log -----------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._cond:
            return list(self._calls)

    @property
    def requests(self) -> list[Any]:
        with self._cond:
            return [call.request for call in self._calls]

    @property
    def last_request(self) -> Any:
        with self._cond:
            return self._calls[-1].request if self._calls else None

    @property
    def count(self) -> int:
        with self._cond:
            return len(self._calls)

    @property
    def max_in_flight(self) -> int:
        with self._cond:
            return self._max_in_flight

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Blocks (the test thread) until `count` calls have arrived; AssertionError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._calls) >= count, timeout):
                raise AssertionError(f"{self.path}: {len(self._calls)} calls, wanted {count}")

    # -- serving ------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request_id = self._fake._next_request_id()
        now = time.monotonic()
        call = Call(body, dict(request.headers), now, request_id)
        try:
            problem = self._problem(body) if isinstance(body, dict) else None
        except Exception as exc:  # e.g. a field of an unexpected type: report it, do not crash
            problem = self._broke(exc)
        with self._cond:
            generation = self._generation
            self._calls.append(call)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            outcome: _Outcome | None = None
            if isinstance(body, dict) and problem is None and self._over_rate(now):
                outcome = _Fail(429, "Rate limit reached for requests", None, _RATE_CODE, None, {})
            elif isinstance(body, dict) and problem is None:
                outcome = self._queue.popleft() if self._queue else self._always
            delay = self._delay
            self._cond.notify_all()
        answer: _Answer | None = None
        try:
            if delay > 0 and not await self._pause(now + delay, generation):
                answer = _error(503, "The fake was reset or stopped while this call waited.")
            elif not isinstance(body, dict):
                answer = _error(400, "We could not parse the JSON body of your request.")
            elif problem is not None:
                answer = problem
            elif isinstance(outcome, _Fail):
                answer = _Answer(
                    outcome.status,
                    error_body(
                        outcome.status, outcome.message, outcome.type, outcome.code, outcome.param
                    ),
                    outcome.headers,
                )
            else:
                answer = self._answer(outcome, body)
        except Exception as exc:  # a bug in the fake or a script: make it loud, OpenAI-shaped
            answer = self._broke(exc)
        finally:
            with self._cond:
                call.ended = time.monotonic()
                call.status = answer.status if answer else 500
                if generation == self._generation:
                    self._in_flight -= 1
                self._cond.notify_all()
        headers = {**answer.headers, "x-request-id": request_id}
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    def _over_rate(self, now: float) -> bool:
        """Whether a call arriving now is above the rate (else it is counted); under the lock."""
        if self._rate is None:
            return False
        calls, per_seconds = self._rate
        while self._admitted and self._admitted[0] <= now - per_seconds:
            self._admitted.popleft()
        if len(self._admitted) >= calls:
            return True
        self._admitted.append(now)
        return False

    def _broke(self, exc: Exception) -> _Answer:
        with self._cond:
            self._fake.errors.append(exc)
        return _error(500, f"The fake failed: {exc!r}", type="fake_error")

    async def _pause(self, until: float, generation: int) -> bool:
        while (left := until - time.monotonic()) > 0:
            if self._generation != generation or self._fake._closing.is_set():
                return False
            await asyncio.sleep(min(left, 0.02))
        return True

    def _problem(self, body: dict[str, Any]) -> _Answer | None:
        """A request OpenAI would refuse with a 400, checked before any scripted outcome."""
        if "model" not in body:
            return _error(400, "you must provide a model parameter", param="model")
        if body.get("stream"):
            return _error(400, "The fake does not stream.", param="stream")
        return None

    def _answer(self, outcome: _Outcome | None, body: dict[str, Any]) -> _Answer:
        raise NotImplementedError


class _StructuredEndpoint(Endpoint):
    """The two text APIs: scripted payloads, malformed text, refusals, truncation."""

    schema_param = ""

    def reply(
        self,
        payload: Any,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> Self:
        """The next call answers with this payload (str verbatim, else its JSON text)."""
        self._enqueue(_Reply(payload, input_tokens, output_tokens))
        return self

    def malformed(self, text: str = 'Sure! Here is the story: {"title": "The') -> Self:
        """The next call's output text is `text` (default: not JSON at all)."""
        self._enqueue(_Malformed(text))
        return self

    def refuse(self, message: str = "I'm sorry, I can't help with that.") -> Self:
        self._enqueue(_Refuse(message))
        return self

    def truncate(self, payload: Any = None) -> Self:
        """The next call stops at max tokens: half of the payload's text (default payload)."""
        self._enqueue(_Truncate(payload))
        return self

    def _problem(self, body: dict[str, Any]) -> _Answer | None:
        problem = super()._problem(body)
        requested = requested_schema(body)
        if problem is None and requested and requested[2] and self._fake.validate_schemas:
            name, schema, _ = requested
            reason = strict_schema_problem(schema)
            if reason:
                return _error(
                    400,
                    f"Invalid schema for response_format '{name}': {reason}",
                    param=self.schema_param,
                    code="invalid_json_schema",
                )
        return problem

    def _answer(self, outcome: _Outcome | None, body: dict[str, Any]) -> _Answer:
        input_tokens = _tokens(body.get("input", body.get("messages", "")))
        output_tokens: int | None = None
        refusal: str | None = None
        truncated = False
        if isinstance(outcome, _Reply):
            text = _payload_text(outcome.payload, body)
            input_tokens = (
                outcome.input_tokens if outcome.input_tokens is not None else input_tokens
            )
            output_tokens = outcome.output_tokens
        elif isinstance(outcome, _Malformed):
            text = outcome.text
        elif isinstance(outcome, _Refuse):
            text, refusal = "", outcome.message
        else:
            requested = requested_schema(body)
            payload: Any = outcome.payload if isinstance(outcome, _Truncate) else None
            if payload is None:
                payload = self._fake.structured_default(requested[0] if requested else None, body)
            text = _payload_text(payload, body)
            if isinstance(outcome, _Truncate):
                text, truncated = text[: max(1, len(text) // 2)], True
        if output_tokens is None:
            output_tokens = _tokens(refusal or text)
        return _Answer(200, self._body(body, text, refusal, truncated, input_tokens, output_tokens))

    def _body(
        self,
        request: dict[str, Any],
        text: str,
        refusal: str | None,
        truncated: bool,
        input_tokens: int,
        output_tokens: int,
    ) -> dict[str, Any]:
        raise NotImplementedError


class ResponsesEndpoint(_StructuredEndpoint):
    """POST /v1/responses (the Responses API)."""

    path = "/v1/responses"
    schema_param = "text.format.schema"

    def _body(
        self,
        request: dict[str, Any],
        text: str,
        refusal: str | None,
        truncated: bool,
        input_tokens: int,
        output_tokens: int,
    ) -> dict[str, Any]:
        number = self._fake._next_id()
        now = int(time.time())
        content: dict[str, Any] = (
            {"type": "refusal", "refusal": refusal}
            if refusal is not None
            else {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        )
        status = "incomplete" if truncated else "completed"
        return {
            "id": f"resp_fake_{number}",
            "object": "response",
            "created_at": now,
            "completed_at": None if truncated else now,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"),
            "max_tool_calls": None,
            "metadata": request.get("metadata") or {},
            "model": request["model"],
            "output": [
                {
                    "id": f"msg_fake_{number}",
                    "type": "message",
                    "status": status,
                    "role": "assistant",
                    "content": [content],
                }
            ],
            "parallel_tool_calls": True,
            "previous_response_id": request.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": request.get("safety_identifier"),
            "service_tier": "default",
            "store": request.get("store", True),
            "temperature": request.get("temperature", 1.0),
            "text": request.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_logprobs": 0,
            "top_p": request.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
            "user": None,
        }


class ChatEndpoint(_StructuredEndpoint):
    """POST /v1/chat/completions (Chat Completions)."""

    path = "/v1/chat/completions"
    schema_param = "response_format"

    def _body(
        self,
        request: dict[str, Any],
        text: str,
        refusal: str | None,
        truncated: bool,
        input_tokens: int,
        output_tokens: int,
    ) -> dict[str, Any]:
        number = self._fake._next_id()
        message = {
            "role": "assistant",
            "content": None if refusal is not None else text,
            "refusal": refusal,
            "annotations": [],
        }
        choices = [
            {
                "index": index,
                "message": message,
                "logprobs": None,
                "finish_reason": "length" if truncated else "stop",
            }
            for index in range(int(request.get("n") or 1))
        ]
        return {
            "id": f"chatcmpl-fake{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": choices,
            "usage": {
                "prompt_tokens": input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }


class ImagesEndpoint(Endpoint):
    """POST /v1/images/generations, gpt-image style: always `b64_json`, never a url."""

    path = "/v1/images/generations"

    def reply(self, image: bytes) -> Self:
        """The next call returns these bytes (base64) as every image, e.g. a broken PNG."""
        self._enqueue(_Image(image))
        return self

    def refuse(
        self,
        message: str = "Your request was rejected by the safety system. "
        "safety_violations=[violence].",
    ) -> Self:
        """The next call is blocked by the safety system: 400, code "moderation_blocked"."""
        return self.fail(
            400, message=message, type="image_generation_user_error", code="moderation_blocked"
        )

    @property
    def moderation_levels(self) -> list[Any]:
        """The `moderation` parameter of each request (None when the client left it out)."""
        return [r.get("moderation") if isinstance(r, dict) else None for r in self.requests]

    def _problem(self, body: dict[str, Any]) -> _Answer | None:
        if not body.get("prompt"):
            return _error(400, "Missing required parameter: 'prompt'.", param="prompt")
        if _image_size(body.get("size")) is None:
            return _error(400, f"Invalid value: '{body.get('size')}'.", param="size")
        if body.get("output_format", "png") not in _PIL_FORMATS:
            return _error(400, "The fake makes png, jpeg, webp or gif.", param="output_format")
        return super()._problem({"model": "gpt-image-1", **body})

    def _answer(self, outcome: _Outcome | None, body: dict[str, Any]) -> _Answer:
        size = _image_size(body.get("size")) or (1024, 1024)
        output_format = body.get("output_format") or "png"
        count = int(body.get("n") or 1)
        data = outcome.data if isinstance(outcome, _Image) else fake_image(*size, output_format)
        encoded = base64.b64encode(data).decode("ascii")
        text_tokens = _tokens(body["prompt"])
        image_tokens = 272 * count
        return _Answer(
            200,
            {
                "created": int(time.time()),
                "background": "opaque",
                "data": [{"b64_json": encoded} for _ in range(count)],
                "output_format": output_format,
                "quality": body.get("quality") if body.get("quality") != "auto" else "medium",
                "size": f"{size[0]}x{size[1]}",
                "usage": {
                    "input_tokens": text_tokens,
                    "input_tokens_details": {"image_tokens": 0, "text_tokens": text_tokens},
                    "output_tokens": image_tokens,
                    "output_tokens_details": {"image_tokens": image_tokens, "text_tokens": 0},
                    "total_tokens": text_tokens + image_tokens,
                },
            },
        )


MODERATION_CATEGORIES: dict[str, tuple[str, ...]] = {
    # category -> the input types it applies to (omni-moderation-latest)
    "harassment": ("text",),
    "harassment/threatening": ("text",),
    "hate": ("text",),
    "hate/threatening": ("text",),
    "illicit": ("text",),
    "illicit/violent": ("text",),
    "self-harm": ("text", "image"),
    "self-harm/intent": ("text", "image"),
    "self-harm/instructions": ("text", "image"),
    "sexual": ("text", "image"),
    "sexual/minors": ("text",),
    "violence": ("text", "image"),
    "violence/graphic": ("text", "image"),
}


class ModerationsEndpoint(Endpoint):
    """POST /v1/moderations: one result per input string (one for a multi-modal list)."""

    path = "/v1/moderations"

    def __init__(self, fake: FakeOpenAI) -> None:
        super().__init__(fake)
        self._flags: list[tuple[str, str]] = []

    def _reset_extra(self) -> None:
        self._flags = []

    def flag(self, *substrings: str, category: str = "violence") -> Self:
        """From now on, inputs containing any of these (case-insensitive) are flagged."""
        if category not in MODERATION_CATEGORIES:
            raise ValueError(f"unknown moderation category {category!r}")
        with self._cond:
            self._flags.extend((s.casefold(), category) for s in substrings)
        return self

    def _problem(self, body: dict[str, Any]) -> _Answer | None:
        if body.get("input") in (None, "", []):
            return _error(400, "Missing required parameter: 'input'.", param="input")
        return None

    def _answer(self, outcome: _Outcome | None, body: dict[str, Any]) -> _Answer:
        raw = body["input"]
        inputs: list[tuple[str, set[str]]]
        if isinstance(raw, str):
            inputs = [(raw, {"text"})]
        elif all(isinstance(item, str) for item in raw):
            inputs = [(item, {"text"}) for item in raw]
        else:  # multi-modal parts: [{"type": "text", ...}, {"type": "image_url", ...}]
            texts = [p.get("text", "") for p in raw if p.get("type") == "text"]
            kinds = {"image" if p.get("type") == "image_url" else "text" for p in raw}
            inputs = [(" ".join(texts), kinds)]
        with self._cond:
            flags = list(self._flags)
        return _Answer(
            200,
            {
                "id": f"modr-fake{self._fake._next_id()}",
                "model": body.get("model") or "omni-moderation-latest",
                "results": [self._result(text, kinds, flags) for text, kinds in inputs],
            },
        )

    @staticmethod
    def _result(text: str, kinds: set[str], flags: Sequence[tuple[str, str]]) -> dict[str, Any]:
        folded = text.casefold()
        hit = {category for needle, category in flags if needle in folded}
        return {
            "flagged": bool(hit),
            "categories": {name: name in hit for name in MODERATION_CATEGORIES},
            "category_scores": {
                name: 0.97 if name in hit else 0.00012 for name in MODERATION_CATEGORIES
            },
            "category_applied_input_types": {
                name: [kind for kind in applies if kind in kinds]
                for name, applies in MODERATION_CATEGORIES.items()
            },
        }


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class FakeOpenAI:
    """The fake server; see the module docstring for the scripting cheat sheet."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._closing = threading.Event()
        self.structured_default: StructuredDefault = default_structured_payload
        self.validate_schemas = True
        self.responses = ResponsesEndpoint(self)
        self.chat = ChatEndpoint(self)
        self.images = ImagesEndpoint(self)
        self.moderations = ModerationsEndpoint(self)
        self.errors: list[BaseException] = []
        """Exceptions raised inside the fake (a bug, or a scripted callable that failed)."""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.startup_seconds = 0.0

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return (self.responses, self.chat, self.images, self.moderations)

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the fake OpenAI server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """What to give `AsyncOpenAI(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, **options: Any) -> AsyncOpenAI:
        """An `AsyncOpenAI` on this server (api_key "test", no retries unless given)."""
        from openai import AsyncOpenAI

        settings: dict[str, Any] = {"api_key": "test", "base_url": self.base_url, "max_retries": 0}
        settings.update(options)
        return AsyncOpenAI(**settings)

    def reset(self) -> None:
        """Back to a freshly started server: no scripts, delays, flags or calls."""
        with self._cond:
            for endpoint in self.endpoints:
                endpoint.reset()
            self.structured_default = default_structured_payload
            self.validate_schemas = True
            self.errors = []

    def _next_id(self) -> int:
        with self._cond:
            return next(self._ids)

    def _next_request_id(self) -> str:
        with self._cond:
            return f"req_fake_{next(self._request_ids)}"

    def _app(self) -> Starlette:
        routes = [Route(e.path, e.handle, methods=["POST"]) for e in self.endpoints]
        routes.append(
            Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE"])
        )
        return Starlette(routes=routes)

    async def _not_found(self, request: Request) -> Response:
        message = f"Invalid URL ({request.method} {request.url.path})"
        return JSONResponse(
            error_body(404, message, code=None),
            status_code=404,
            headers={"x-request-id": self._next_request_id()},
        )

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already running")
        began = time.perf_counter()
        self._closing.clear()
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
        # and a plain socket.socket() says 0, which costs every keep-alive call 40 ms of Nagle.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.bind(("127.0.0.1", 0))
        self._port = listener.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            http="h11",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="fake-openai", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.001)
        self.startup_seconds = time.perf_counter() - began

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._closing.set()
        if server is not None:
            server.should_exit = True
            server.force_exit = True
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None
        self._port = 0

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[FakeOpenAI]:
        fake = cls()
        fake.start()
        try:
            yield fake
        finally:
            fake.stop()


# --------------------------------------------------------------------------------------------
# Nothing listening
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def refusing_base_url() -> Iterator[str]:
    """A base_url whose port is bound but not listening: connections are refused, and no other
    test can take the port while the block runs."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}/v1"
    finally:
        holder.close()


def closed_port_url() -> str:
    """A base_url with nothing listening (a port just released; prefer `refusing_base_url`)."""
    with refusing_base_url() as url:
        return url


# --------------------------------------------------------------------------------------------
# Fixtures (pytest_plugins = ["tests.fake_openai"])
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.running() as fake:
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's fake OpenAI, fresh for this test; fails the test if the fake itself broke."""
    fake_openai_server.reset()
    yield fake_openai_server
    errors = list(fake_openai_server.errors)
    fake_openai_server.reset()
    if errors:
        pytest.fail(f"the fake OpenAI server failed while serving: {errors!r}")


@pytest.fixture
def fake_openai_url_down() -> Iterator[str]:
    with refusing_base_url() as url:
        yield url


__all__ = [
    "MODERATION_CATEGORIES",
    "Call",
    "ChatEndpoint",
    "Endpoint",
    "FakeOpenAI",
    "ImagesEndpoint",
    "ModerationsEndpoint",
    "ResponsesEndpoint",
    "closed_port_url",
    "default_structured_payload",
    "error_body",
    "example_from_schema",
    "fake_image",
    "refusing_base_url",
    "requested_schema",
    "strict_schema_problem",
]
