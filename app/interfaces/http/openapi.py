"""The OpenAPI document as clients generate code from it: every error documented as what it is
on the wire, `application/problem+json` with the problem schema (FastAPI files a response
model under `application/json`, which errors never use), and optional headers as strings (a
header is absent, never null)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from app.interfaces.http.event_schemas import event_data_schemas, event_schema
from app.interfaces.http.problems import PROBLEM_JSON
from app.interfaces.http.schemas import TYPED_TEXT
from app.interfaces.http.text_patterns import typed_text_pattern

OPENAPI_URL = "/openapi.json"
_REF = "#/components/schemas/{model}"
_PROBLEM_REF = {"$ref": _REF.format(model="ProblemOut")}
# What FastAPI files an error under: ours, and its own 422 schema, which errors never use.
_PROBLEM_SCHEMAS = {_PROBLEM_REF["$ref"], _REF.format(model="HTTPValidationError")}

# What a client (or a test generator) can call next with what a response returned, by
# operation id (each route's name) and status.
_LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "start_book": {
        "201": {
            "current_book": {"operationId": "current_book"},
            "write_page": {"operationId": "write_page"},
            "discard_book": {"operationId": "discard_book"},
        }
    },
    "write_page": {
        "200": {
            "current_book": {"operationId": "current_book"},
            "redraw_picture": {
                "operationId": "redraw_picture",
                "parameters": {"number": "$response.body#/pages/0/number"},
            },
            "finish_book": {"operationId": "finish_book"},
        }
    },
    "finish_book": {
        "201": {
            "get_book": {
                "operationId": "get_book",
                "parameters": {"book_id": "$response.body#/id"},
            },
            "delete_book": {
                "operationId": "delete_book",
                "parameters": {"book_id": "$response.body#/id"},
            },
        }
    },
    "finish_user_book": {
        "201": {
            "any_book": {"operationId": "any_book", "parameters": {"book_id": "$response.body#/id"}}
        }
    },
}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _problems_as_problem_json(document)
            _headers_are_never_null(document)
            _events_described(document)
            _links_added(document)
            _typed_text_patterns(document)
            _unused_schemas_removed(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def serve(app: FastAPI) -> None:
    """`GET /openapi.json`. The first one makes the document in a worker thread: deriving the
    typed-text patterns scans Unicode (about a second), which must not stall the event loop."""

    async def document() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(app.openapi))

    app.add_api_route(OPENAPI_URL, document, methods=["GET"], include_in_schema=False)


def _problems_as_problem_json(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if not status.isdigit() or int(status) < 400:
                    continue
                content = response.setdefault("content", {})
                body = content.get("application/json", {}).get("schema", {})
                if body.get("$ref", _PROBLEM_REF["$ref"]) not in _PROBLEM_SCHEMAS:
                    continue  # the route answers this status with a body of its own (/ready)
                content.pop("application/json", None)
                content[PROBLEM_JSON] = {"schema": _PROBLEM_REF}


def _headers_are_never_null(document: dict[str, Any]) -> None:
    """An optional header is absent, never JSON null: `str | None` is documented as a string."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
                if parameter.get("in") == "header" and len(options) == 1:
                    rest = {k: v for k, v in schema.items() if k != "anyOf"}
                    parameter["schema"] = {**options[0], **rest}


def _events_described(document: dict[str, Any]) -> None:
    """Each event of a `text/event-stream` response, with the schema of its JSON data."""
    described = False
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                stream = response.get("content", {}).get("text/event-stream")
                if stream is not None:
                    stream["schema"] = event_schema(_REF)
                    described = True
    if described:
        document.setdefault("components", {}).setdefault("schemas", {}).update(
            event_data_schemas(_REF)
        )


def _links_added(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, links in _LINKS.get(operation.get("operationId", ""), {}).items():
                operation["responses"][status]["links"] = links


def _typed_text_patterns(document: dict[str, Any]) -> None:
    """Each typed-text field gets the pattern of the rules it is checked by."""
    for schema in document.get("components", {}).get("schemas", {}).values():
        for field in schema.get("properties", {}).values():
            rules = field.pop(TYPED_TEXT, None)
            if rules is not None:
                field["pattern"] = typed_text_pattern(**rules)


def _unused_schemas_removed(document: dict[str, Any]) -> None:
    """FastAPI's own validation-error schemas stay in the components after errors are
    documented as problems; a client generator would make classes nothing returns."""
    schemas = document.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps({k: v for k, v in document.items() if k != "components"}) + json.dumps(
            schemas
        )
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]
