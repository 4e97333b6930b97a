"""The service's own signed image links in local-storage mode."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from app.infrastructure.images.signing import ImageUrlSigner
from app.infrastructure.system import SystemClock
from app.infrastructure.tokens import resolve_link_key
from tests.api.conftest import assert_problem, start


async def test_image_links_work_without_a_token(client: httpx.AsyncClient) -> None:
    book = await start(client)
    response = await client.get(book["cover_image_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    assert "private" in response.headers["cache-control"]


async def test_a_tampered_signature_is_403(client: httpx.AsyncClient) -> None:
    url = urlsplit((await start(client))["cover_image_url"])
    query = parse_qs(url.query)
    signature = query["signature"][0]
    forged = ("0" if signature[0] != "0" else "1") + signature[1:]
    response = await client.get(f"{url.path}?expires={query['expires'][0]}&signature={forged}")
    assert_problem(response, 403, "forbidden")
    later = int(query["expires"][0]) + 3600
    response = await client.get(f"{url.path}?expires={later}&signature={signature}")
    assert_problem(response, 403, "forbidden")
    assert_problem(await client.get(url.path), 403, "forbidden")


async def test_a_link_for_another_image_is_403(client: httpx.AsyncClient) -> None:
    url = urlsplit((await start(client))["cover_image_url"])
    other = url.path.replace("staging/alice", "staging/bob")
    assert_problem(await client.get(f"{other}?{url.query}"), 403, "forbidden")


async def test_an_expired_link_is_403(client: httpx.AsyncClient) -> None:
    url = urlsplit((await start(client))["cover_image_url"])
    query = parse_qs(url.query)
    assert int(query["expires"][0]) > 0
    response = await client.get(f"{url.path}?expires=1000&signature={query['signature'][0]}")
    assert_problem(response, 403, "forbidden")


async def test_a_validly_signed_unknown_image_is_404(client: httpx.AsyncClient) -> None:
    settings = client._transport.app.state.services.settings  # type: ignore[attr-defined]
    signer = ImageUrlSigner(resolve_link_key(settings), timedelta(minutes=5), SystemClock())
    path = signer.sign("books/0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10/cover.png")
    assert_problem(await client.get(path), 404, "not_found")
