"""Every /v1 endpoint needs a valid bearer token; the admin endpoints need the admin role."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest

from tests.api.conftest import AUDIENCE, SECRET, assert_problem, make_token

ENDPOINTS = [
    ("GET", "/v1/books/current"),
    ("POST", "/v1/books"),
    ("DELETE", "/v1/books/current"),
    ("POST", "/v1/books/current/pages"),
    ("POST", "/v1/books/current/finish"),
    ("GET", "/v1/books"),
    ("GET", "/v1/books/0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10"),
    ("DELETE", "/v1/books/0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10"),
    ("GET", "/v1/admin/users/alice/books/current"),
    ("POST", "/v1/admin/users/alice/books/current/finish"),
    ("GET", "/v1/admin/books/0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10"),
]


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


NOW = int(time.time())
BAD_TOKENS = {
    "expired": make_token(exp=NOW - 3600),
    "wrong secret": jwt.encode(
        {"sub": "alice", "aud": AUDIENCE, "exp": NOW + 600}, "another-secret-" * 4, "HS256"
    ),
    "wrong audience": make_token(aud="someone-else"),
    "no audience": make_token(aud=None),
    "no exp": make_token(exp=None),
    "no sub": make_token(sub=None),  # type: ignore[arg-type]
    "bad sub": make_token(sub="alice/../bob"),
    "long sub": make_token(sub="a" * 65),
    "dot-dot sub": make_token(sub=".."),
    "alg none": _unsigned({"sub": "alice", "aud": AUDIENCE, "exp": NOW + 600}),
    "HS512 not pinned": jwt.encode(
        {"sub": "alice", "aud": AUDIENCE, "exp": NOW + 600}, SECRET, "HS512"
    ),
    "garbage": "not.a.jwt",
    "roles not a list": make_token(roles="admin"),
    "no iat": make_token(iat=None),
    "exp a numeric string": make_token(exp=str(NOW + 600)),
    "iat a numeric string": make_token(iat=str(NOW)),
    "100 years ahead": make_token(exp=NOW + 100 * 365 * 86_400),
    "31 days": make_token(iat=NOW, exp=NOW + 31 * 86_400),
}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_missing_token_is_401_with_bearer_challenge(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={})
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_bad_token_is_401(client: httpx.AsyncClient, case: str) -> None:
    response = await client.get(
        "/v1/books/current", headers={"Authorization": f"Bearer {BAD_TOKENS[case]}"}
    )
    problem = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    # The same words whatever is wrong: an expired token is not told apart from a forged one.
    assert problem["detail"] == "The bearer token is not valid."


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cHc=", "Bearer", "Bearer  ", "token abc"])
async def test_malformed_authorization_header_is_401(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/v1/books/current", headers={"Authorization": header})
    assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize(("method", "path"), [e for e in ENDPOINTS if "/admin/" in e[1]])
async def test_a_user_token_on_admin_routes_is_403(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    headers = {"Authorization": f"Bearer {make_token('alice')}"}
    response = await client.request(method, path, json={"title": "x"}, headers=headers)
    assert_problem(response, 403, "forbidden")
