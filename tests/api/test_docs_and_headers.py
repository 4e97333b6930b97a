"""The docs page and the headers every answer carries: docs assets from the app itself (no CDN),
nosniff everywhere, no caching of the user's own answers, CORS only for configured origins."""

from __future__ import annotations

import re

import httpx

from tests.api.conftest import ClientFactory, auth, start


async def test_the_docs_load_their_assets_from_the_app_not_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    loaded = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', page.text)
    assert loaded and all(url.startswith("/") for url in loaded), loaded  # nothing off the app
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


async def test_docs_can_be_turned_off(make_client: ClientFactory) -> None:
    client = await make_client(docs_enabled=False)
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/openapi.json")).status_code == 404
    assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 404


async def test_every_answer_says_nosniff(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/health"),
        await client.get("/v1/books/current", headers=auth()),  # a problem
        await client.get("/docs/assets/swagger-ui.css"),
        await client.get("/nowhere"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url


async def test_answers_to_a_token_are_not_stored_by_caches(client: httpx.AsyncClient) -> None:
    await start(client)
    mine = await client.get("/v1/books/current", headers=auth())
    assert mine.status_code == 200
    assert mine.headers["cache-control"] == "no-store"
    shelf = await client.get("/v1/books", headers=auth())
    assert shelf.headers["cache-control"] == "no-store"
    assert "no-store" not in (await client.get("/health")).headers.get("cache-control", "")


async def test_no_cors_unless_origins_are_configured(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/v1/books",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_preflight_and_answers_for_a_configured_origin(
    make_client: ClientFactory,
) -> None:
    client = await make_client(cors_origins="https://app.example, https://admin.example")
    preflight = await client.options(
        "/v1/books/current/pages",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    answer = await client.get(
        "/v1/books/current", headers={**auth(), "Origin": "https://admin.example"}
    )
    assert answer.headers["access-control-allow-origin"] == "https://admin.example"
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert {"retry-after", "location", "idempotent-replayed"} <= set(exposed.split(", "))
    other = await client.options(
        "/v1/books",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers
