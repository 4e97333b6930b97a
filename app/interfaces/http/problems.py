"""RFC 9457 problem details. This is the one place where errors become HTTP statuses."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.application.errors import (
    BookAlreadyInProgress,
    BookNotFound,
    ContentRejected,
    DependencyUnavailable,
    ExportUnavailable,
    GenerationFailed,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    ImageLinkRejected,
    ImageNotFound,
    InvalidCursor,
    NoBookInProgress,
    RateLimited,
    VersionConflict,
)
from app.application.request_context import current_request_id
from app.domain.errors import InvalidBookState, InvalidValue, PageNotFound

log = logging.getLogger("littlewriter.http")
PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5


class Unauthorized(Exception):
    """No usable bearer token; `hint` (development only) is added to the problem as `hint`,
    beside the contract's fixed `detail`."""

    def __init__(self, detail: str, *, hint: str | None = None) -> None:
        super().__init__(detail)
        self.hint = hint


class Forbidden(Exception):
    """A valid token without the role the route needs."""


class BadRequest(Exception):
    """A request header the service cannot use (a malformed key or event id)."""


class UnsupportedMediaType(Exception):
    """The request body is not JSON."""


class PayloadTooLarge(StarletteHTTPException):
    """The request body is over the configured limit. An HTTPException, because FastAPI passes
    those through while it reads a body and turns anything else into a 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


# Most specific class first: the first match by isinstance wins.
_ERRORS: list[tuple[type[Exception], HTTPStatus, str]] = [
    (Unauthorized, HTTPStatus.UNAUTHORIZED, "unauthorized"),
    (Forbidden, HTTPStatus.FORBIDDEN, "forbidden"),
    (BadRequest, HTTPStatus.BAD_REQUEST, "bad_request"),
    (UnsupportedMediaType, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    (IdempotencyKeyInUse, HTTPStatus.CONFLICT, "idempotency_key_in_use"),
    (IdempotencyKeyReused, HTTPStatus.UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
    (RateLimited, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited"),
    (BookAlreadyInProgress, HTTPStatus.CONFLICT, "book_already_in_progress"),
    (NoBookInProgress, HTTPStatus.NOT_FOUND, "no_book_in_progress"),
    (BookNotFound, HTTPStatus.NOT_FOUND, "book_not_found"),
    (PageNotFound, HTTPStatus.NOT_FOUND, "page_not_found"),
    (InvalidBookState, HTTPStatus.CONFLICT, "invalid_book_state"),
    (VersionConflict, HTTPStatus.CONFLICT, "invalid_book_state"),
    (InvalidCursor, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"),
    (InvalidValue, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"),
    (ContentRejected, HTTPStatus.UNPROCESSABLE_ENTITY, "content_rejected"),
    (GenerationFailed, HTTPStatus.BAD_GATEWAY, "generation_failed"),
    (DependencyUnavailable, HTTPStatus.SERVICE_UNAVAILABLE, "dependency_unavailable"),
    (ExportUnavailable, HTTPStatus.SERVICE_UNAVAILABLE, "dependency_unavailable"),
    (ImageNotFound, HTTPStatus.NOT_FOUND, "not_found"),
    (ImageLinkRejected, HTTPStatus.FORBIDDEN, "forbidden"),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}

# What a client may be told; anything else (vendor messages, internals) stays in the logs.
_GENERIC_DETAIL = {
    GenerationFailed: "The story helper could not finish this page. Nothing was changed; "
    "please try again.",
    DependencyUnavailable: "A service the storybook needs is not answering. Please try again soon.",
}


# A way out, in the HTTP terms only this layer knows, for refusals that name one.
_WAY_OUT = {
    BookAlreadyInProgress: "; discard it with DELETE /v1/books/current to start another",
}


def problem(
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    if (request_id := current_request_id()) is not None:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _mapping(error: Exception) -> tuple[HTTPStatus, str]:
    for kind, status, code in _ERRORS:
        if isinstance(error, kind):
            return status, code
    raise error


def problem_for(error: Exception) -> JSONResponse:
    """The problem response for an error the map knows; any other error is raised again."""
    return _for_error(error)


def _for_error(error: Exception) -> JSONResponse:
    status, code = _mapping(error)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    detail = str(error)
    for generic_kind, generic_detail in _GENERIC_DETAIL.items():
        if isinstance(error, generic_kind):
            log.warning("%s: %s", type(error).__name__, error)
            detail = generic_detail
    for refused_kind, way_out in _WAY_OUT.items():
        if isinstance(error, refused_kind):
            detail += way_out
    if isinstance(error, ContentRejected):
        detail = error.child_message
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        if error.hint is not None:
            extra["hint"] = error.hint
    if isinstance(error, DependencyUnavailable):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(error, RateLimited | IdempotencyKeyInUse):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return problem(status, code, detail, headers, **extra)


def _validation_detail(error: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    items = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        items.append({"field": where, "message": item.get("msg", "invalid")})
    detail = "; ".join(f"{i['field']}: {i['message']}" for i in items) or "invalid request"
    return detail, items


def _documented_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document lists for `path` (matched against its templates)."""
    methods: set[str] = set()
    for template, operations in app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def install(app: FastAPI) -> None:
    async def on_app_error(_: Request, error: Exception) -> JSONResponse:
        return _for_error(error)

    async def on_validation(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        if any(e.get("type") == "json_invalid" for e in error.errors()):
            return problem(400, "bad_request", "The request body is not valid JSON.")
        detail, items = _validation_detail(error)
        return problem(422, "validation_error", detail, errors=items)

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        status = error.status_code
        code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
        detail = error.detail if isinstance(error.detail, str) else HTTPStatus(status).phrase
        if status == 404 and detail == "Not Found":
            detail = "There is nothing at this address."
        headers = dict(error.headers or {})
        if status == 405:
            # Off the event loop: the first call makes the OpenAPI document (about a second).
            documented = await run_in_threadpool(_documented_methods, app, request.url.path)
            if documented:
                headers["Allow"] = ", ".join(documented)  # every method of the path
        return problem(status, code, detail, headers=headers)

    async def on_unexpected(_: Request, error: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=error)
        return problem(500, "internal_error", "Something went wrong on our side.")

    for kind, *_ in _ERRORS:
        app.add_exception_handler(kind, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
