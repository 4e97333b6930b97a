"""A finish survives a crash at every step, end to end.

Real `littlewriter serve` processes on a real Redis and a real MariaDB: with LW_FAILPOINT set the
process dies (`os._exit(97)`, no cleanup) at that step of a finish; restarted without it, the same
finish call completes the same book exactly once. Also: a user's finish racing an admin's, and
`littlewriter reconcile` removing the permanent images no book claims.

The embedded store cannot take part: it lives in the process and reaches the disk only at a
graceful shutdown (and every 30 s), so a crash loses the book in progress. These tests need
LW_TEST_REDIS_URL and LW_TEST_MYSQL_URL (skipped when unset, required with
LW_TEST_REQUIRE_SERVICES=1); each module gets a fresh, migrated database of its own, and every
test its own user ids (the Redis is shared).

Images: every test runs once per name in IMAGE_BACKENDS. "s3" (tests/s3_server.py's moto server,
one new bucket per test) joins "local" once the composition root builds S3 image storage from
LW_S3_BUCKET.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import redis
from mypy_boto3_s3 import S3Client
from sqlalchemy import URL, Engine, make_url, text

from app.application.use_cases.finish_book import FINISH_STEPS
from app.infrastructure.database import build_engine
from app.infrastructure.store.progress_index import INDEX_KEYS
from app.infrastructure.store.redis_books import KEY_PREFIX
from app.infrastructure.tokens import ConfigurationError
from app.interfaces.composition import check_production, finish_checkpoint
from tests.api.conftest import BOOK, SECRET, make_token, settings_for
from tests.integration.services import service_url
from tests.processes import free_port, wait_until_healthy

pytest_plugins = ["tests.s3_server"]
pytestmark = pytest.mark.services

IMAGE_BACKENDS = ["local", "s3"]
CLI = [sys.executable, "-m", "app.interfaces.cli"]
FAILPOINT_EXIT = 97
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PAGES = 2


# -- image backends, looked at from outside the service ------------------------------------------


class Images(ABC):
    """The image storage the servers use, seen by the test directly (not through the service)."""

    @abstractmethod
    def env(self) -> dict[str, str]:
        """The LW_* settings that select this backend."""

    @abstractmethod
    def keys(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def backdate(self, keys: list[str], age: timedelta) -> bool:
        """Make the objects look written `age` ago; False when the backend cannot."""

    def staged(self, user: str, book_id: str) -> list[str]:
        return self.keys(f"staging/{user}/{book_id}/")

    def permanent(self, book_id: str) -> list[str]:
        return self.keys(f"books/{book_id}/")


class LocalImages(Images):
    def __init__(self, root: Path) -> None:
        self.root = root

    def env(self) -> dict[str, str]:
        return {}

    def keys(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.exists():
            return []
        # Every file counts, a half-written temporary one too.
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def backdate(self, keys: list[str], age: timedelta) -> bool:
        when = time.time() - age.total_seconds()
        for key in keys:
            os.utime(self.root / key, (when, when))
        return True


class S3Images(Images):
    def __init__(self, client: S3Client, bucket: str, endpoint_url: str) -> None:
        self.client = client
        self.bucket = bucket
        self.endpoint_url = endpoint_url

    def env(self) -> dict[str, str]:
        return {"LW_S3_BUCKET": self.bucket, "LW_S3_ENDPOINT_URL": self.endpoint_url}

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="image/png")

    def backdate(self, keys: list[str], age: timedelta) -> bool:
        return False  # S3 sets LastModified itself


# -- a deployment: one data dir, the shared Redis, the module's database ---------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    client: httpx.Client
    log: Path


@dataclass
class Deployment:
    data_dir: Path
    redis_url: str
    database_url: URL
    engine: Engine
    images: Images

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
        env.update(
            LW_DATA_DIR=str(self.data_dir),
            LW_JWT_SECRET=SECRET,
            LW_REDIS_URL=self.redis_url,
            LW_DATABASE_URL=self.database_url.render_as_string(hide_password=False),
            **self.images.env(),
            **extra,
        )
        return env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env=self.env(), capture_output=True, text=True, timeout=60, check=False
        )

    @contextmanager
    def serving(self, failpoint: str | None = None) -> Iterator[Server]:
        extra = {"LW_FAILPOINT": failpoint} if failpoint else {}
        log = self.data_dir / f"serve-{secrets.token_hex(3)}.log"
        port = free_port()
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*CLI, "serve", "--port", str(port)],
                env=self.env(**extra),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        try:
            wait_until_healthy(process, client, lambda: log.read_text(errors="replace"))
            yield Server(process, client, log)
        finally:
            client.close()
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)

    # -- looking at the backends directly --------------------------------------------------------

    def rows(self, book_id: str) -> int:
        with self.engine.connect() as connection:
            count = connection.execute(
                text("SELECT COUNT(*) FROM books WHERE id = :id"), {"id": book_id}
            ).scalar_one()
        return int(count)

    def page_rows(self, book_id: str) -> int:
        with self.engine.connect() as connection:
            count = connection.execute(
                text("SELECT COUNT(*) FROM book_pages WHERE book_id = :id"), {"id": book_id}
            ).scalar_one()
        return int(count)

    def delete_row(self, book_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(text("DELETE FROM book_pages WHERE book_id = :id"), {"id": book_id})
            connection.execute(text("DELETE FROM books WHERE id = :id"), {"id": book_id})

    def has_book_in_progress(self, user: str) -> bool:
        with redis.Redis.from_url(self.redis_url) as client:
            return bool(client.exists(f"{KEY_PREFIX}{user}"))


@pytest.fixture(scope="module")
def redis_url() -> str:
    return service_url("LW_TEST_REDIS_URL")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """A fresh database for this module, migrated by `littlewriter migrate`; dropped at the end."""
    server = make_url(service_url("LW_TEST_MYSQL_URL"))
    admin = build_engine(server)
    name = f"lw_e2e_{secrets.token_hex(6)}"
    with admin.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = server.set(database=name)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
        env["LW_DATA_DIR"] = str(tmp_path_factory.mktemp("migrate"))
        env["LW_DATABASE_URL"] = url.render_as_string(hide_password=False)
        migrated = subprocess.run(
            [*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert migrated.returncode == 0, migrated.stderr
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="module")
def engine(database_url: URL) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=IMAGE_BACKENDS)
def images(request: pytest.FixtureRequest, tmp_path: Path) -> Images:
    if request.param == "s3":
        return S3Images(
            request.getfixturevalue("s3_client"),
            request.getfixturevalue("s3_bucket"),
            request.getfixturevalue("s3_endpoint_url"),
        )
    return LocalImages(tmp_path / "data" / "images")


@pytest.fixture
def deployment(
    tmp_path: Path, redis_url: str, database_url: URL, engine: Engine, images: Images
) -> Deployment:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return Deployment(data_dir, redis_url, database_url, engine, images)


@pytest.fixture
def user(deployment: Deployment) -> Iterator[str]:
    """A user id no other test (or earlier run) uses; its book in progress is removed afterwards."""
    name = f"e2e-{secrets.token_hex(6)}"
    yield name
    with redis.Redis.from_url(deployment.redis_url) as client:
        client.delete(f"{KEY_PREFIX}{name}")


# -- the HTTP journeys -----------------------------------------------------------------------------


def headers(user: str, *, admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, admin=admin)}"}


def write_book(api: httpx.Client, user: str, pages: int = PAGES) -> dict[str, Any]:
    """Start a book and write every page: the book is `done` and ready to finish."""
    started = api.post("/v1/books", json={**BOOK, "page_count": pages}, headers=headers(user))
    assert started.status_code == 201, started.text
    for number in range(1, pages + 1):
        page = api.post(
            "/v1/books/current/pages", json={"input": f"idea {number}"}, headers=headers(user)
        )
        assert page.status_code == 200, page.text
    book: dict[str, Any] = page.json()
    assert book["state"] == "done"
    return book


def image_urls(view: dict[str, Any]) -> list[str]:
    return [view["cover_image_url"], *(page["image_url"] for page in view["pages"])]


def fetch(api: httpx.Client, url: str) -> bytes:
    """GET an image link without the bearer token: 200 image/png."""
    response = api.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG_SIGNATURE)
    return response.content


def finish(api: httpx.Client, user: str, title: str = "Kept for Good") -> httpx.Response:
    return api.post("/v1/books/current/finish", json={"title": title}, headers=headers(user))


def admin_finish(api: httpx.Client, user: str, *, force: bool) -> httpx.Response:
    return api.post(
        f"/v1/admin/users/{user}/books/current/finish",
        json={"title": "Kept for Good", "force": force},
        headers=headers("e2e-admin", admin=True),
    )


def permanent_keys(book_id: str, pages: int = PAGES) -> list[str]:
    return sorted(
        [
            f"books/{book_id}/cover.png",
            *(f"books/{book_id}/pages/{n}.png" for n in range(1, 1 + pages)),
        ]
    )


def assert_finished_once(
    deployment: Deployment, api: httpx.Client, user: str, book_id: str
) -> dict[str, Any]:
    """One row, listed once, every image permanent and fetchable, nothing staged, no book left."""
    assert deployment.rows(book_id) == 1
    assert deployment.page_rows(book_id) == PAGES
    shelf = api.get("/v1/books", headers=headers(user))
    assert shelf.status_code == 200
    assert [item["id"] for item in shelf.json()["items"]] == [book_id]
    view = api.get(f"/v1/books/{book_id}", headers=headers(user))
    assert view.status_code == 200
    for url in image_urls(view.json()):
        fetch(api, url)
    assert deployment.images.permanent(book_id) == permanent_keys(book_id)
    assert deployment.images.staged(user, book_id) == []
    current = api.get("/v1/books/current", headers=headers(user))
    assert current.status_code == 404 and current.json()["code"] == "no_book_in_progress"
    assert not deployment.has_book_in_progress(user)
    body: dict[str, Any] = view.json()
    return body


# -- a crash at every step of a finish -------------------------------------------------------------

# What a crash at each step leaves behind: (a row, staged images, the book in progress, copies).
LEFT_BEHIND = {
    "after_claim": (0, True, True, False),
    "after_copies": (0, True, True, True),
    "after_insert": (1, True, True, True),
    "after_staged_delete": (1, False, True, True),
    "before_store_delete": (1, False, True, True),
}


def test_every_failpoint_is_covered() -> None:
    assert set(LEFT_BEHIND) == set(FINISH_STEPS)


@pytest.mark.parametrize("step", FINISH_STEPS)
def test_a_finish_killed_at_any_step_is_completed_by_the_same_call_after_a_restart(
    deployment: Deployment, user: str, step: str
) -> None:
    with deployment.serving(failpoint=step) as server:
        book = write_book(server.client, user)
        book_id = book["id"]
        staged_bytes = [fetch(server.client, url) for url in image_urls(book)]
        with pytest.raises(httpx.TransportError):
            finish(server.client, user)
        assert server.process.wait(timeout=30) == FAILPOINT_EXIT
    assert f"failpoint {step} reached" in server.log.read_text()

    rows, staged, in_progress, copied = LEFT_BEHIND[step]
    assert deployment.rows(book_id) == rows
    assert deployment.images.permanent(book_id) == (permanent_keys(book_id) if copied else [])
    assert bool(deployment.images.staged(user, book_id)) is staged
    assert deployment.has_book_in_progress(user) is in_progress

    with deployment.serving() as server:
        response = finish(server.client, user)
        assert response.status_code == 201, response.text
        assert response.json()["id"] == book_id
        assert response.headers["location"] == f"/v1/books/{book_id}"

        view = assert_finished_once(deployment, server.client, user, book_id)
        assert [fetch(server.client, url) for url in image_urls(view)] == staged_bytes
        again = finish(server.client, user)  # the same finish again: the book it kept
        assert again.status_code == 201 and again.json()["id"] == book_id
        assert deployment.rows(book_id) == 1


def test_a_typo_in_the_failpoint_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(LW_DATA_DIR=str(tmp_path), LW_FAILPOINT="after_copy")
    result = subprocess.run(
        [*CLI, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "LW_FAILPOINT='after_copy' is not a step of a finish" in result.stderr


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"failpoint": "after_copy"}, "not a step of a finish"),
        ({"failpoint": "after_copies", "env": "production"}, "production refuses it"),
    ],
)
def test_the_failpoint_setting_is_checked_before_anything_starts(
    tmp_path: Path, changes: dict[str, Any], problem: str
) -> None:
    settings = settings_for(tmp_path, **changes)
    with pytest.raises(ConfigurationError, match=problem):
        check_production(settings)
    with pytest.raises(ConfigurationError, match=problem):
        finish_checkpoint(settings)


def test_without_a_failpoint_a_finish_has_no_checkpoint(tmp_path: Path) -> None:
    assert finish_checkpoint(settings_for(tmp_path)) is None
    checkpoint = finish_checkpoint(settings_for(tmp_path, failpoint="after_insert"))
    assert checkpoint is not None
    for step in FINISH_STEPS:
        if step != "after_insert":
            checkpoint(step)  # any other step passes (the matching one would end this process)


# -- a user's finish racing an admin's -------------------------------------------------------------

ROUNDS = 6


def at_once(start: threading.Barrier, call: Any, *args: Any, **kwargs: Any) -> httpx.Response:
    start.wait(timeout=10)
    response: httpx.Response = call(*args, **kwargs)
    return response


def test_a_users_finish_racing_an_admins_keeps_the_book_once_and_tells_the_loser(
    deployment: Deployment, user: str
) -> None:
    with deployment.serving() as server, ThreadPoolExecutor(max_workers=2) as pool:
        admin_api = httpx.Client(base_url=server.client.base_url, timeout=30)
        finished_ids = []
        for round_number in range(ROUNDS):
            book_id = write_book(server.client, user)["id"]
            start = threading.Barrier(2)
            mine = pool.submit(at_once, start, finish, server.client, user)
            theirs = pool.submit(
                at_once, start, admin_finish, admin_api, user, force=round_number % 2 == 1
            )
            responses = [mine.result(timeout=60), theirs.result(timeout=60)]

            created = [r for r in responses if r.status_code == 201]
            assert len(created) == 1, [r.text for r in responses]
            assert {r.json()["id"] for r in created} == {book_id}
            [lost] = [r for r in responses if r.status_code != 201]
            assert lost.status_code == 409, lost.text  # being, or already, finished by the other
            assert lost.json()["code"] == "invalid_book_state"
            assert deployment.rows(book_id) == 1
            kept = server.client.get(f"/v1/books/{book_id}", headers=headers(user)).json()
            assert kept["finished_by"] == ("user" if created[0] is responses[0] else "admin")
            assert deployment.images.staged(user, book_id) == []
            assert not deployment.has_book_in_progress(user)
            finished_ids.append(book_id)
        admin_api.close()

        shelf = server.client.get("/v1/books?limit=100", headers=headers(user)).json()
        assert sorted(item["id"] for item in shelf["items"]) == sorted(finished_ids)
        for book_id in finished_ids:
            view = server.client.get(f"/v1/books/{book_id}", headers=headers(user)).json()
            for url in image_urls(view):
                fetch(server.client, url)


# -- reconcile -------------------------------------------------------------------------------------


def test_reconcile_lists_then_removes_the_images_no_book_claims(
    deployment: Deployment, user: str
) -> None:
    with deployment.serving() as server:
        write_book(server.client, user)
        lost = finish(server.client, user).json()  # its row goes below: its images are orphans
        write_book(server.client, user)
        kept = finish(server.client, user).json()
    deployment.delete_row(lost["id"])
    stray = f"books/{uuid4()}"
    stray_keys = [f"{stray}/cover.png", f"{stray}/pages/1.png"]
    for key in stray_keys:
        deployment.images.put(key, PNG_SIGNATURE + b"stray")
    orphans = sorted([*permanent_keys(lost["id"]), *stray_keys])

    old = [*orphans, *permanent_keys(kept["id"])]
    if deployment.images.backdate(old, timedelta(hours=2)):
        grace: list[str] = []  # the default hour
    else:
        grace = ["--grace-seconds", "12"]  # one CLI run takes well under that
        time.sleep(13)
    young = f"books/{uuid4()}/cover.png"
    everything = sorted([*old, young])

    def upload_young() -> None:
        # An image still being finished (here: written again just before each run, so that its
        # age is never more than one run's time, however slow the machine is).
        deployment.images.put(young, PNG_SIGNATURE + b"young")

    upload_young()
    dry = deployment.cli("reconcile", *grace)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == orphans
    assert "found 5 orphan image(s) of 2 book(s), nothing deleted" in dry.stderr
    assert deployment.images.keys("books/") == everything

    upload_young()
    applied = deployment.cli("reconcile", "--apply", *grace)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == orphans
    assert "deleted 5 orphan image(s) of 2 book(s)" in applied.stderr
    assert deployment.images.keys("books/") == sorted([*permanent_keys(kept["id"]), young])

    upload_young()
    again = deployment.cli("reconcile", "--apply", *grace)
    assert again.returncode == 0 and again.stdout == ""
    with deployment.serving() as server:
        view = server.client.get(f"/v1/books/{kept['id']}", headers=headers(user))
        assert view.status_code == 200
        for url in image_urls(view.json()):
            fetch(server.client, url)


def test_reconcile_apply_rebuilds_the_index_of_books_in_progress(
    deployment: Deployment, user: str
) -> None:
    """A book stored before the index existed (or whose entry was lost) is listed again."""

    def listed(server: Server) -> list[str]:
        response = server.client.get(
            "/v1/admin/books-in-progress",
            params={"user_id": user},
            headers=headers("root", admin=True),
        )
        assert response.status_code == 200, response.text
        return [item["user_id"] for item in response.json()["items"]]

    with deployment.serving() as server:
        write_book(server.client, user, pages=1)
        assert listed(server) == [user]
    with redis.Redis.from_url(deployment.redis_url) as client:
        for key in INDEX_KEYS:
            client.zrem(key, user)
    with deployment.serving() as server:
        assert listed(server) == []

    dry = deployment.cli("reconcile")
    assert dry.returncode == 0 and "indexed" not in dry.stderr, dry.stderr
    applied = deployment.cli("reconcile", "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "book(s) in progress again" in applied.stderr
    with deployment.serving() as server:
        assert listed(server) == [user]
        done = server.client.get(
            "/v1/admin/books-in-progress",
            params={"user_id": user, "state": "done"},
            headers=headers("root", admin=True),
        )
        assert [item["user_id"] for item in done.json()["items"]] == [user]


def test_reconcile_runs_on_the_embedded_defaults_too(tmp_path: Path) -> None:
    """No servers at all: SQLite, the in-process store and local images in the data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env["LW_DATA_DIR"] = str(tmp_path)
    images = LocalImages(tmp_path / "images")
    old, young = f"books/{uuid4()}/cover.png", f"books/{uuid4()}/cover.png"
    images.put(old, PNG_SIGNATURE)
    images.put(young, PNG_SIGNATURE)
    images.backdate([old], timedelta(hours=2))

    def reconcile(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "reconcile", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    dry = reconcile()
    assert (dry.returncode, dry.stdout) == (0, f"{old}\n"), dry.stderr
    assert images.keys("books/") == sorted([old, young])
    applied = reconcile("--apply")
    assert (applied.returncode, applied.stdout) == (0, f"{old}\n"), applied.stderr
    assert images.keys("books/") == [young]
    assert reconcile("--grace-seconds", "0").returncode == 2  # a grace period must be positive
