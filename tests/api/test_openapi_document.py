"""The OpenAPI document says what goes over the wire: errors as problem+json with their schema,
the headers' patterns as the server checks them, the image route's real media types."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.domain.events import EventName
from app.interfaces.http.event_stream import checked_event_id
from app.interfaces.http.idempotency import KEY_PATTERN, parse_key
from app.interfaces.http.problems import BadRequest


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


async def test_every_error_is_documented_as_problem_json_with_its_schema(
    document: dict[str, Any],
) -> None:
    errors = 0
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and path != "/ready":
                errors += 1
                assert response["content"] == {
                    "application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/ProblemOut"}
                    }
                }, (method, path, status)
    assert errors > 30
    # Readiness answers 503 with its checks, not a problem.
    ready = document["paths"]["/ready"]["get"]["responses"]["503"]["content"]
    assert ready == {"application/json": {"schema": {"$ref": "#/components/schemas/ReadyOut"}}}
    problem = document["components"]["schemas"]["ProblemOut"]
    assert {"type", "title", "status", "detail", "code", "errors"} <= problem["properties"].keys()


def patterns(schema: dict[str, Any]) -> set[str]:
    """The patterns of a parameter's schema (an optional one is an anyOf with null)."""
    found = {schema.get("pattern"), *(s.get("pattern") for s in schema.get("anyOf", []))}
    return {p for p in found if p}


def header(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    parameters = document["paths"][path][method]["parameters"]
    found: dict[str, Any] = next(p for p in parameters if p["name"] == name and p["in"] == "header")
    return found


def assert_pattern_agrees(pattern: str, check: Callable[[str], object], samples: list[str]) -> None:
    """The documented pattern accepts exactly what the server's check accepts."""
    for value in samples:
        try:
            check(value)
            accepted = True
        except BadRequest:
            accepted = False
        assert bool(re.fullmatch(pattern, value)) == accepted, value


async def test_the_idempotency_key_is_documented_with_the_pattern_the_server_checks(
    document: dict[str, Any],
) -> None:
    for path, method in [("/v1/books", "post"), ("/v1/books/current/pages", "post")]:
        schema = header(document, path, method, "Idempotency-Key")["schema"]
        assert KEY_PATTERN in patterns(schema)
    samples = ['"8e03978e-40d5"', "abc", "a,b", '"a,b"', 'a"b', "", "x" * 256, "a\\b"]
    assert_pattern_agrees(KEY_PATTERN, parse_key, samples)


async def test_last_event_id_is_documented_with_the_pattern_the_server_checks(
    document: dict[str, Any],
) -> None:
    schema = header(document, "/v1/books/current/events", "get", "Last-Event-ID")["schema"]
    assert schema["type"] == "string" and "anyOf" not in schema  # absent, never null
    samples = ["1796052737358-0", "0", "0-0", "12", "1-", "-1", "1-2-3", "x", "1" * 20, ""]
    assert_pattern_agrees(schema["pattern"], checked_event_id, samples)


async def test_the_image_route_documents_images_and_its_refusals(document: dict[str, Any]) -> None:
    responses = document["paths"]["/images/{key}"]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"image/png", "image/jpeg", "image/webp"}
    assert {"403", "404"} <= responses.keys()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/books/current", "DELETE, GET"),
        ("PUT", "/v1/books", "GET, POST"),
        ("POST", "/v1/books/0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10", "DELETE, GET"),
    ],
)
async def test_a_405_allows_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.headers["content-type"] == "application/problem+json"


async def test_every_event_of_the_stream_is_documented_with_its_data(
    document: dict[str, Any],
) -> None:
    content = document["paths"]["/v1/books/current/events"]["get"]["responses"]["200"]["content"]
    variants = content["text/event-stream"]["schema"]["oneOf"]
    names = {v["properties"]["event"]["const"] for v in variants}
    assert names == {*EventName, "resync", "book_gone", "token_expired"}
    for variant in variants:
        ref = variant["properties"]["data"]["contentSchema"]["$ref"]
        data = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert data["additionalProperties"] is False
        assert ("id" in variant["required"]) == (variant["title"] in set(EventName))


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def fields_a_client_sets(
    document: dict[str, Any], schema: dict[str, Any], at: str
) -> list[tuple[str, dict[str, Any]]]:
    """Every property of a request body, nested objects and lists of objects included."""
    schema = resolved(document, schema)
    found = []
    for name, field in schema.get("properties", {}).items():
        found.append((f"{at}.{name}", field))
        items = field.get("items")
        if items is not None:
            found += fields_a_client_sets(document, items, f"{at}.{name}[]")
    return found


async def test_every_field_and_parameter_a_client_sets_is_described_with_an_example(
    document: dict[str, Any],
) -> None:
    fields = 0
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            where = f"{method} {path} {parameter['name']}"
            assert parameter.get("description") or parameter["schema"].get("description"), where
            fields += 1
        body = operation.get("requestBody")
        if body is not None:
            schema = body["content"]["application/json"]["schema"]
            assert resolved(document, schema).get("examples"), f"{method} {path}"
            for where, field in fields_a_client_sets(document, schema, f"{method} {path}"):
                assert field.get("description"), where
                if "items" not in field:
                    assert field.get("examples"), where
                fields += 1
    assert fields > 20


async def test_every_link_names_an_operation_and_its_parameters(
    document: dict[str, Any],
) -> None:
    by_id = {operation["operationId"]: operation for _, _, operation in operations(document)}
    links = 0
    for _, _, operation in operations(document):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                target = by_id[link["operationId"]]
                path_parameters = {
                    p["name"] for p in target.get("parameters", []) if p["in"] == "path"
                }
                assert set(link.get("parameters", {})) == path_parameters, link
                links += 1
    assert links >= 8


async def test_bounds_are_documented_as_json_schema_keywords(document: dict[str, Any]) -> None:
    """Not as pydantic's own names (`ge`, `le`), which a client generator does not read."""

    def keys(node: Any) -> set[str]:
        if isinstance(node, dict):
            return set(node).union(*(keys(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(keys(v) for v in node))
        return set()

    assert not {"ge", "le", "gt", "lt"} & keys(document["components"]["schemas"])
