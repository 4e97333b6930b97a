"""The admin console page `GET /admin` over HTTP: HTML that holds no data (the same with any
token or none: its scripts fetch the admin API, whose 403 is the guard), a CSP that allows no
inline code, words in the browser's language, and every script module it loads served."""

from __future__ import annotations

import posixpath
import re

import httpx
import pytest

from tests.api.conftest import BOOK, ClientFactory, auth


async def test_the_console_is_html_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = dict(
        d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["connect-src"] == "'self'"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert '<html lang="en">' in html and "<h1>Admin console</h1>" in html
    assert '<script type="module" src="/static/admin/console.js"></script>' in html
    assert "<style" not in html and " style=" not in html and " on" + "click=" not in html
    for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert 'type="application/json"' in attributes or body == ""
    assert "littlewriter login-link NAME --admin" in html


async def test_the_page_holds_no_data_whoever_asks(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/books", json=BOOK, headers=auth("paula"))).status_code == 201
    anonymous = await client.get("/admin")
    as_user = await client.get("/admin", headers=auth("paula"))
    as_admin = await client.get("/admin", headers=auth("root", admin=True))
    assert anonymous.text == as_user.text == as_admin.text
    assert "paula" not in as_admin.text
    # The API behind it is what refuses a user's token.
    refused = await client.get("/v1/admin/books-in-progress", headers=auth("paula"))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    ("accept_language", "query", "heading"),
    [
        ("ko-KR,ko;q=0.9", "", "관리자 콘솔"),
        ("en-US", "", "Admin console"),
        ("en", "?lang=ko", "관리자 콘솔"),
    ],
)
async def test_the_words_follow_the_browsers_language(
    client: httpx.AsyncClient, accept_language: str, query: str, heading: str
) -> None:
    response = await client.get(f"/admin{query}", headers={"Accept-Language": accept_language})
    assert f"<h1>{heading}</h1>" in response.text
    assert response.headers["vary"] == "Accept-Language"


async def test_its_policy_admits_the_image_hosts_and_the_identity_provider(
    make_client: ClientFactory,
) -> None:
    # Pictures of books from S3/MinIO or the public base; the sign-in's call to the provider.
    client = await make_client(
        public_base_url="https://lw.example",
        s3_endpoint_url="http://minio:9000",
        oidc_authorize_url="https://id.example/authorize",
        oidc_token_url="https://id.example/oauth/token",
        oidc_client_id="console",
    )
    html = await client.get("/admin")
    policy = dict(
        d.strip().split(" ", 1) for d in html.headers["content-security-policy"].split(";")
    )
    assert policy["img-src"].split()[-2:] == ["https://lw.example", "http://minio:9000"]
    assert policy["connect-src"] == "'self' https://id.example"
    assert 'id="sign-in-provider"' in html.text


async def test_every_module_and_stylesheet_it_loads_is_served(client: httpx.AsyncClient) -> None:
    html = (await client.get("/admin")).text
    pending = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        response = await client.get(path)
        assert response.status_code == 200, path
        if path.endswith(".js"):
            assert "javascript" in response.headers["content-type"]
            folder = path.rsplit("/", 1)[0]
            for imported in re.findall(r'^import .* from "(\.[^"]+)";$', response.text, re.M):
                pending.append(posixpath.normpath(posixpath.join(folder, imported)))
    assert {"/static/admin/console.js", "/static/admin/listing.js", "/static/web/api.js"} <= seen
