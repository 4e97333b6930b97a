"""`Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header) for the POST routes.

A request with a key claims it; the response it ends with is kept and replayed to every repeat
with the same key and body, so a client that lost an answer can send the request again without
writing a second page. A response that says "try again" (5xx, 429) is not kept."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Annotated, Any, assert_never

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from app.application.concurrency import stop
from app.application.errors import (
    DependencyUnavailable,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
)
from app.application.ports import (
    Claimed,
    Completed,
    IdempotencyStore,
    InProgress,
    KeyReused,
    StoredResponse,
)
from app.infrastructure.tokens import InvalidToken
from app.interfaces.composition import Services
from app.interfaces.http.json_route import JsonRoute
from app.interfaces.http.problems import PROBLEM_JSON, BadRequest, problem_for
from app.interfaces.http.schemas import ProblemOut

log = logging.getLogger("littlewriter.http")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
MAX_RETRY_AFTER_SECONDS = 5
# What a replay needs to be the same answer; the rest (date, length) is the server's own.
KEPT_HEADERS = ("Content-Type", "Location", "Preference-Applied", "Retry-After")

# A quoted string, or the same characters bare without a comma: 1-255 visible ASCII characters
# but `"` and `\`.
KEY_PATTERN = r'^(?:"[!#-\[\]-~]{1,255}"|[!#-+\--\[\]-~]{1,255})$'

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="Makes the request safe to repeat: a repeat with the same key and body gets "
        "the first response again (with `Idempotent-Replayed: true`) instead of running twice. "
        'A quoted or bare string of 1-255 visible ASCII characters, e.g. `"8e03978e-40d5"`; '
        "keys are per caller and kept 24 hours.",
        examples=['"8e03978e-40d5-43e8-bc93-6894a57f9324"'],
        # Documented, not enforced here: `IdempotentRoute` checks the header (400) first.
        json_schema_extra={"pattern": KEY_PATTERN},
    ),
]

Handler = Callable[[], Awaitable[Response]]

_problem: dict[str, Any] = {"model": ProblemOut, "content": {PROBLEM_JSON: {}}}


def idempotency_responses(success_status: int, conflict: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of an idempotent route; `conflict` says what its own 409 means."""
    return {
        success_status: {
            "headers": {
                REPLAYED_HEADER: {
                    "description": "`true` when this is the stored response of an earlier "
                    "request with the same Idempotency-Key.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        },
        400: {**_problem, "description": "`bad_request`: a malformed Idempotency-Key header."},
        409: {
            **_problem,
            "description": f"{conflict}; or `idempotency_key_in_use`: a request with the same "
            "Idempotency-Key is still running (see `Retry-After`).",
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait (with `idempotency_key_in_use`).",
                    "schema": {"type": "integer"},
                }
            },
        },
        422: {
            **_problem,
            "description": "`validation_error`, or `idempotency_key_reused`: the Idempotency-Key "
            "was already used for a different request.",
        },
    }


def json_response(
    model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """The model as JSON, serialised by pydantic-core in one step (not to a dict, then dumped)."""
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def parse_key(value: str) -> str:
    """An RFC 8941 sf-string, or the same characters bare; else `BadRequest`."""
    text = value.strip(" \t")
    quoted = len(text) >= 2 and text[0] == text[-1] == '"'
    key = text[1:-1] if quoted else text
    valid = (
        1 <= len(key) <= MAX_KEY_LENGTH
        and all("!" <= char <= "~" and char not in '"\\' for char in key)
        # A bare comma is how HTTP joins several field lines into one: several keys.
        and (quoted or "," not in key)
    )
    if not valid:
        raise BadRequest(
            f"The {HEADER} header must be one string of 1-{MAX_KEY_LENGTH} visible ASCII "
            'characters without quotes or backslashes inside, like "8e03978e-40d5".'
        )
    return key


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key was used for: the same JSON in another key order is the same request."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def client_request_id(scope: str, key: str, fingerprint: str) -> str:
    """What names the request on the book it changes: its key, scoped to its caller, and what it
    asked (a key wrongly used again for another request names another request)."""
    return hashlib.sha256(f"{scope}\n{key}\n{fingerprint}".encode()).hexdigest()[:32]


async def get_client_request_id(
    request: Request, idempotency_key: IdempotencyKeyHeader = None
) -> str | None:
    """The identity of the client's request, from its Idempotency-Key, which `IdempotentRoute`
    has checked; the header is declared here so that OpenAPI documents it on these routes."""
    found: str | None = getattr(request.state, "client_request_id", None)
    return found


ClientRequestId = Annotated[str | None, Depends(get_client_request_id)]


async def _caller(request: Request, services: Services) -> str | None:
    """Whose keys these are: the verified token's subject (None: the route answers 401)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        return (await services.tokens.authenticate(token.strip())).user_id
    except InvalidToken:
        return None


class IdempotentRoute(JsonRoute):
    """A POST route that honours `Idempotency-Key`: the first request with a key runs, a repeat
    gets its response; the route's endpoint reads the request's identity (`ClientRequestId`) and
    puts it on the book it changes, so a retry whose answer was lost finds its change."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def idempotent(request: Request) -> Response:
            values = request.headers.getlist(HEADER)
            if not values:
                return await handler(request)
            if len(values) != 1:
                raise BadRequest(f"Send one {HEADER} header, not several.")
            key = parse_key(values[0])
            services: Services = request.app.state.services
            scope = await _caller(request, services)
            if scope is None:
                return await handler(request)  # answers 401: nothing to keep
            body = await request.body()
            fingerprint = request_fingerprint(request.method, request.url.path, body)
            request.state.client_request_id = client_request_id(scope, key, fingerprint)
            return await _answer(services, scope, key, fingerprint, lambda: handler(request))

        return idempotent


async def _answer(
    services: Services, scope: str, key: str, fingerprint: str, handler: Handler
) -> Response:
    store = services.idempotency
    settings = services.settings
    lock = timedelta(seconds=settings.idempotency_lock_seconds)
    claim = await store.claim(scope, key, fingerprint, lock)
    match claim:
        case Completed(response):
            return _replay(response)
        case KeyReused():
            raise IdempotencyKeyReused(
                f"This {HEADER} was already used for a different request; "
                "send a new key with a new request."
            )
        case InProgress(retry_after):
            raise IdempotencyKeyInUse(
                f"A request with this {HEADER} is still being handled; try again shortly.",
                min(retry_after, MAX_RETRY_AFTER_SECONDS),
            )
        case Claimed(token):
            run = _Run(store, scope, key, token, fingerprint)
            keep = timedelta(seconds=settings.idempotency_ttl_seconds)
            return await run.handle(handler, lock, keep)
        case _:
            assert_never(claim)


class _Run:
    """The request that holds the key: it renews the key's short lock while it runs, then keeps
    its response, or frees the key for a retry. A request that dies stops renewing, and its key
    is free again within one lock."""

    def __init__(
        self, store: IdempotencyStore, scope: str, key: str, token: str, fingerprint: str
    ) -> None:
        self._store = store
        self._scope = scope
        self._key = key
        self._token = token
        self._fingerprint = fingerprint

    async def handle(self, handler: Handler, lock: timedelta, keep: timedelta) -> Response:
        renewing = asyncio.create_task(self._renew(lock))
        try_again = False
        try:
            try:
                response = await handler()
            except Exception as error:  # noqa: BLE001 - problem_for raises the unknown again
                response = problem_for(error)
                # "Still running" is not this request's answer: the work it waits for is.
                try_again = isinstance(error, IdempotencyKeyInUse)
        except BaseException:
            await stop(renewing)
            await _finish(self._release())
            raise
        await stop(renewing)
        if try_again or response.status_code >= 500 or response.status_code == 429:
            await _finish(self._release())
        else:
            await _finish(self._complete(response, keep))
        return response

    async def _renew(self, lock: timedelta) -> None:
        while True:
            await asyncio.sleep(lock.total_seconds() / 3)
            try:
                if not await self._store.renew(self._scope, self._key, self._token, lock):
                    log.warning("an idempotency key's lock passed while its request ran")
                    return
            except DependencyUnavailable as error:
                log.warning("could not renew an idempotency key's lock: %s", error)

    async def _complete(self, response: Response, keep: timedelta) -> None:
        stored = StoredResponse(
            status=response.status_code,
            headers=tuple(
                (name, value)
                for name in KEPT_HEADERS
                if (value := response.headers.get(name)) is not None
            ),
            body=bytes(response.body),
        )
        try:
            await self._store.complete(
                self._scope, self._key, self._token, self._fingerprint, stored, keep
            )
        except DependencyUnavailable as error:
            # The work is done and its answer is on its way; a repeat after the lock passes
            # runs again and meets the state this request left.
            log.warning("could not keep the response of an idempotency key: %s", error)

    async def _release(self) -> None:
        try:
            await self._store.release(self._scope, self._key, self._token)
        except DependencyUnavailable as error:
            log.warning("could not free an idempotency key; its lock will pass: %s", error)


# Shielded tasks still running after their request was cancelled; the loop holds tasks weakly.
_finishing: set[asyncio.Task[None]] = set()


async def _finish(step: Coroutine[Any, Any, None]) -> None:
    """Keep or free the key even when the request is cancelled meanwhile (client gone)."""
    task = asyncio.create_task(step)
    _finishing.add(task)
    task.add_done_callback(_finishing.discard)
    await asyncio.shield(task)


def _replay(stored: StoredResponse) -> Response:
    headers = {**dict(stored.headers), REPLAYED_HEADER: "true"}
    return Response(content=stored.body, status_code=stored.status, headers=headers)
