"""The real `littlewriter` processes: tokens from the CLI, and data that survives a restart."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.api.conftest import BOOK
from tests.processes import CLI, free_port, running_server


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env["LW_DATA_DIR"] = str(data_dir)
    return env


def _token(data_dir: Path, user: str, *extra: str) -> str:
    result = subprocess.run(
        [*CLI, "token", user, *extra],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.count("\n") == 1  # the token and nothing else
    return result.stdout.strip()


@contextmanager
def serving(data_dir: Path) -> Iterator[httpx.Client]:
    with running_server(_env(data_dir)) as (client, _):
        yield client


def test_cli_tokens_and_finished_books_survive_a_restart(tmp_path: Path) -> None:
    with serving(tmp_path) as api:  # the first start makes the development secret
        headers = {"Authorization": f"Bearer {_token(tmp_path, 'alice')}"}
        assert (
            api.post("/v1/books", json={**BOOK, "page_count": 1}, headers=headers).status_code
            == 201
        )
        assert api.post(
            "/v1/books/current/pages", json={"input": "the end"}, headers=headers
        ).is_success
        finished = api.post("/v1/books/current/finish", json={"title": "Kept"}, headers=headers)
        assert finished.status_code == 201
        book_id = finished.json()["id"]

    with serving(tmp_path) as api:
        book = api.get(f"/v1/books/{book_id}", headers=headers)
        assert book.status_code == 200 and book.json()["title"] == "Kept"
        image = api.get(book.json()["pages"][0]["image_url"])
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        admin = {"Authorization": f"Bearer {_token(tmp_path, 'root', '--admin')}"}
        assert api.get(f"/v1/admin/books/{book_id}", headers=admin).status_code == 200
        assert api.get("/v1/admin/books/" + book_id, headers=headers).status_code == 403


def test_a_book_in_progress_survives_a_restart_on_the_embedded_store(tmp_path: Path) -> None:
    with serving(tmp_path) as api:
        headers = {"Authorization": f"Bearer {_token(tmp_path, 'alice')}"}
        assert api.post("/v1/books", json=BOOK, headers=headers).status_code == 201
        page = api.post("/v1/books/current/pages", json={"input": "a map"}, headers=headers)
        before = page.json()
    with serving(tmp_path) as api:
        after = api.get("/v1/books/current", headers=headers).json()
        assert (after["id"], after["version"], after["pages"][0]["input"]) == (
            before["id"],
            before["version"],
            "a map",
        )
        assert after["expires_at"] == before["expires_at"]
        assert api.post(
            "/v1/books/current/pages", json={"input": "next"}, headers=headers
        ).is_success


def test_token_refuses_a_bad_user_id(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "token", "not ok!"],
        env=_env(tmp_path) | {"LW_JWT_SECRET": secrets.token_hex(32)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and result.stdout == ""
    assert "USER_ID" in result.stderr


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"LW_ENV": "production"}
    result = subprocess.run([*CLI, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "LW_JWT_SECRET" in result.stderr


def test_production_refuses_embedded_backends_unless_allowed(tmp_path: Path) -> None:
    env = _env(tmp_path) | {
        "LW_ENV": "production",
        "LW_JWT_SECRET": secrets.token_hex(32),
        "LW_IMAGE_URL_SECRET": secrets.token_hex(32),
        "LW_PUBLIC_BASE_URL": "https://books.example",
    }
    result = subprocess.run([*CLI, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "embedded" in result.stderr


def test_serve_refuses_an_evicting_redis_with_a_clear_message(tmp_path: Path) -> None:
    from tests.api.test_backend_faults import PrivateRedis

    redis = PrivateRedis("--maxmemory-policy", "allkeys-lru")
    redis.start()
    try:
        env = _env(tmp_path) | {"LW_REDIS_URL": redis.url}
        result = subprocess.run(
            [*CLI, "serve", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        redis.stop()
    assert result.returncode != 0
    assert "maxmemory-policy" in result.stderr and "noeviction" in result.stderr


def test_serve_refuses_a_book_that_could_outlive_its_staged_images(tmp_path: Path) -> None:
    env = _env(tmp_path) | {
        "LW_STAGING_EXPIRATION_DAYS": "1",
        "LW_BOOK_MAX_AGE_SECONDS": str(2 * 86_400),
    }
    result = subprocess.run([*CLI, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "LW_BOOK_MAX_AGE_SECONDS must be below the staging image lifetime" in result.stderr


def test_the_data_dir_holds_only_private_files(tmp_path: Path) -> None:
    """The database, its WAL, the snapshot, the secrets and the images: 0600, folders 0700."""
    data_dir = tmp_path / "data"
    with serving(data_dir) as api:
        headers = {"Authorization": f"Bearer {_token(data_dir, 'alice')}"}
        assert api.post("/v1/books", json={**BOOK, "page_count": 1}, headers=headers).is_success
        assert api.post("/v1/books/current/pages", json={"input": "x"}, headers=headers).is_success
        finished = api.post("/v1/books/current/finish", json={"title": "Kept"}, headers=headers)
        assert finished.status_code == 201
        assert api.post("/v1/books", json=BOOK, headers=headers).is_success  # a snapshot's book
    paths = [data_dir, *data_dir.rglob("*")]
    names = {p.name for p in paths}
    assert {"littlewriter.db", "books-in-progress.json", "jwt_secret"} <= names, names
    assert any(p.suffix == ".png" for p in paths)
    for path in paths:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_a_cli_token_cannot_outlive_the_lifetime_cap(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "token", "alice", "--ttl", str(40 * 86_400)],
        env=_env(tmp_path) | {"LW_JWT_SECRET": secrets.token_hex(32)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "LW_JWT_MAX_TTL_SECONDS" in result.stderr
