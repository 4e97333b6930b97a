"""The whole app over HTTP (httpx on the ASGI app, lifespan included) on embedded backends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr

from app.infrastructure.settings import Settings
from app.interfaces.composition import Overrides
from app.interfaces.http.app import create_app

SECRET = "test-secret-long-enough-for-every-hmac-algorithm-0123456789abcdef0123"
AUDIENCE = "littlewriter"
BOOK = {
    "characters": [{"name": "Momo", "description": "a brave little rabbit with a red scarf"}],
    "page_count": 3,
    "language": "en",
    "reader_age": 5,
    "setting": "a snowy forest",
}

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


def make_token(sub: str = "alice", *, admin: bool = False, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": sub, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    if admin:
        payload["roles"] = ["admin"]
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, SECRET, algorithm="HS256")


def auth(sub: str = "alice", *, admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(sub, admin=admin)}"}


def settings_for(data_dir: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "jwt_secret": SecretStr(SECRET),
        "redis_url": None,
        "database_url": None,
        "s3_bucket": None,
        "public_base_url": None,
    }
    values.update(changes)
    return Settings(**values)


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[ClientFactory]:
    stack: list[tuple[Any, httpx.AsyncClient]] = []

    async def factory(
        overrides: Overrides | None = None,
        *,
        raise_app_exceptions: bool = True,
        data_dir: Path | None = None,
        **changes: Any,
    ) -> httpx.AsyncClient:
        app = create_app(settings_for(data_dir or tmp_path / "data", **changes), overrides)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        stack.append((lifespan, client))
        return client

    yield factory
    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def client(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client()


async def start(client: httpx.AsyncClient, user: str = "alice", **changes: Any) -> dict[str, Any]:
    response = await client.post("/v1/books", json={**BOOK, **changes}, headers=auth(user))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def write(client: httpx.AsyncClient, text: str, user: str = "alice") -> httpx.Response:
    return await client.post("/v1/books/current/pages", json={"input": text}, headers=auth(user))


async def finished_book(
    client: httpx.AsyncClient, user: str = "alice", title: str = "Momo's Map", pages: int = 3
) -> dict[str, Any]:
    await start(client, user, page_count=pages)
    for n in range(pages):
        assert (await write(client, f"idea number {n + 1}", user)).status_code == 200
    response = await client.post(
        "/v1/books/current/finish", json={"title": title}, headers=auth(user)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code and body["type"] == "about:blank"
    assert body["title"] and isinstance(body["detail"], str) and body["detail"]
    return body
