"""The creator page `GET /` over HTTP: HTML in the browser's language (or `?lang=`), a CSP that
allows no inline code, no referrer, its scripts and words served by the app."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.api.conftest import ClientFactory


def ui_text(html: str) -> dict[str, str]:
    block = re.search(r'<script type="application/json" id="ui-text">(.*?)</script>', html, re.S)
    assert block is not None
    words: dict[str, str] = json.loads(block.group(1))
    return words


async def test_the_creator_is_html_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["vary"] == "Accept-Language"
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert '<html lang="en">' in html
    # No inline code: every script is a module from the app, or the words as JSON data.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attributes, body in scripts:
        assert 'type="application/json"' in attributes or (
            'src="/static/web/' in attributes and body == ""
        )
    assert "<style" not in html and " style=" not in html and " on" + "click=" not in html
    assert ui_text(html)["start_button"] == "Start the book"


@pytest.mark.parametrize(
    ("accept_language", "query", "language", "start_button"),
    [
        ("ko-KR,ko;q=0.9,en;q=0.8", "", "ko", "책 시작하기"),
        ("en-US,en;q=0.9", "", "en", "Start the book"),
        ("fr-FR, ko;q=0.5", "", "ko", "책 시작하기"),
        ("ko-KR", "?lang=en", "en", "Start the book"),
        ("en", "?lang=ko", "ko", "책 시작하기"),
        ("de", "?lang=xx", "en", "Start the book"),
    ],
)
async def test_the_interface_follows_the_browsers_language(
    client: httpx.AsyncClient, accept_language: str, query: str, language: str, start_button: str
) -> None:
    response = await client.get(f"/{query}", headers={"Accept-Language": accept_language})
    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.text
    assert ui_text(response.text)["start_button"] == start_button
    assert start_button in response.text


async def test_the_pages_scripts_and_styles_are_served(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    assets = re.findall(r'(?:src|href)="(/static/web/[^"]+)"', html)
    assert {"/static/web/base.css", "/static/web/creator/main.js"} <= set(assets)
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200, asset
    module = (await client.get("/static/web/creator/main.js")).headers["content-type"]
    assert "javascript" in module
    imported = await client.get("/static/web/creator/book.js")
    for path in re.findall(r'from "\.\./(\w+\.js)"', imported.text):
        assert (await client.get(f"/static/web/{path}")).status_code == 200


async def test_the_creator_needs_no_token_and_a_wrong_method_is_405(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/", headers={"Authorization": "Bearer nonsense"})).status_code == 200
    refused = await client.post("/")
    assert refused.status_code == 405
    assert refused.headers["content-type"].startswith("application/problem+json")


async def test_pictures_may_come_from_the_configured_image_hosts(
    make_client: ClientFactory,
) -> None:
    client = await make_client(
        public_base_url="https://books.example/app", s3_endpoint_url="http://minio:9000"
    )
    policy = (await client.get("/")).headers["content-security-policy"]
    images = next(d for d in policy.split(";") if d.strip().startswith("img-src")).split()
    assert images == [
        "img-src",
        "'self'",
        "data:",
        "blob:",
        "https:",
        "https://books.example",
        "http://minio:9000",
    ]
