"""Whose word `littlewriter serve` takes for the client's address, scheme and host: forwarded
headers only from the configured proxies, and in production image links only from
LW_PUBLIC_BASE_URL, never from the request's Host."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.processes import CLI, running_server

BOOK = {"characters": [{"name": "Momo"}], "page_count": 1}


@contextmanager
def serving(data_dir: Path, **settings: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(LW_DATA_DIR=str(data_dir), LW_JWT_SECRET=secrets.token_hex(32), **settings)
    token = subprocess.run(
        [*CLI, "token", "alice"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    with running_server(env) as (client, _):
        yield client, {"Authorization": f"Bearer {token}"}


def cover_link(client: httpx.Client, auth: dict[str, str], **headers: str) -> str:
    if client.get("/v1/books/current", headers=auth).status_code == 404:
        assert client.post("/v1/books", json=BOOK, headers=auth).status_code == 201
    response = client.get("/v1/books/current", headers={**auth, **headers})
    assert response.status_code == 200, response.text
    link: str = response.json()["cover_image_url"]
    return link


def test_forwarded_headers_are_ignored_unless_they_come_from_a_configured_proxy(
    tmp_path: Path,
) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with serving(tmp_path / "a") as (client, auth):
        assert cover_link(client, auth, **forwarded).startswith("http://127.0.0.1:")
    with serving(tmp_path / "b", LW_TRUSTED_PROXIES="127.0.0.1") as (client, auth):
        assert cover_link(client, auth, **forwarded).startswith("https://127.0.0.1:")


def test_in_production_image_links_follow_the_public_base_url_not_the_host_header(
    tmp_path: Path,
) -> None:
    production = {
        "LW_ENV": "production",
        "LW_ALLOW_EMBEDDED_IN_PRODUCTION": "true",
        "LW_IMAGE_URL_SECRET": secrets.token_hex(32),
        "LW_PUBLIC_BASE_URL": "https://books.example",
    }
    with serving(tmp_path, **production) as (client, auth):
        link = cover_link(client, auth, Host="evil.example")
        assert link.startswith("https://books.example/images/"), link
