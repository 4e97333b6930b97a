"""The OpenAPI document as clients generate code from it: every error documented as what it is
on the wire, `application/problem+json` with the problem schema (FastAPI files a response
model under `application/json`, which errors never use)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.interfaces.http.problems import PROBLEM_JSON

_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemOut"}


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
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problems_as_problem_json(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if not status.isdigit() or int(status) < 400:
                    continue
                content = response.setdefault("content", {})
                content.pop("application/json", None)
                content[PROBLEM_JSON] = {"schema": _PROBLEM_REF}
