"""Real backends that are down, misconfigured or unmigrated: refused at start or a fast 503."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from moto.server import ThreadedMotoServer

from app.infrastructure.tokens import ConfigurationError
from app.interfaces.http.app import create_app
from tests.api.conftest import BOOK, ClientFactory, assert_problem, auth, settings_for
from tests.integration.services import REQUIRE, service_url
from tests.processes import free_port


class PrivateRedis:
    """A redis-server of the test's own, so it can be stopped without touching anyone else's."""

    def __init__(self, *args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if __import__("os").environ.get(REQUIRE) == "1":
                pytest.fail("redis-server is not installed")
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.args = args
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def test_redis_going_down_is_a_fast_503_and_the_retry_succeeds_when_it_is_back(
    make_client: ClientFactory, private_redis: PrivateRedis
) -> None:
    client = await make_client(redis_url=private_redis.url, redis_timeout_seconds=1.0)
    assert (await client.post("/v1/books", json=BOOK, headers=auth())).status_code == 201

    private_redis.stop()
    began = time.monotonic()
    response = await client.post("/v1/books/current/pages", json={"input": "x"}, headers=auth())
    assert time.monotonic() - began < 3
    assert_problem(response, 503, "dependency_unavailable")
    assert response.headers["retry-after"]
    ready = await client.get("/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["store"] != "ok"

    private_redis.start()  # the same port, empty: the book is gone with the old process
    again = await client.post("/v1/books", json=BOOK, headers=auth())
    assert again.status_code == 201
    assert (await client.get("/ready")).status_code == 200


@pytest.mark.parametrize(
    "policy", ["allkeys-lru", "volatile-lru", "volatile-ttl", "allkeys-random"]
)
async def test_refuses_to_start_on_a_redis_that_can_evict_books(
    tmp_path: Path, policy: str
) -> None:
    server = PrivateRedis("--maxmemory-policy", policy)
    server.start()
    try:
        app = create_app(settings_for(tmp_path, redis_url=server.url))
        with pytest.raises(ConfigurationError, match="noeviction"):
            async with app.router.lifespan_context(app):
                pass
    finally:
        server.stop()


async def test_starts_on_a_redis_with_noeviction(
    make_client: ClientFactory, private_redis: PrivateRedis
) -> None:
    client = await make_client(redis_url=private_redis.url)
    assert (await client.get("/ready")).json()["checks"]["store"] == "ok"


async def test_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    server_url = sa.make_url(service_url("LW_TEST_MYSQL_URL"))
    name = f"lw_unmigrated_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    try:
        url = server_url.set(database=name).render_as_string(hide_password=False)
        app = create_app(settings_for(tmp_path, database_url=url))
        with pytest.raises(ConfigurationError, match="littlewriter migrate"):
            async with app.router.lifespan_context(app):
                pass
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE {name}"))
        admin.dispose()


async def test_a_redis_that_never_answers_is_a_503_bounded_by_the_timeout(
    make_client: ClientFactory,
) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        client = await make_client(redis_url=url, redis_timeout_seconds=0.5)
        began = time.monotonic()
        response = await client.get("/v1/books/current", headers=auth())
        assert time.monotonic() - began < 2.5
        assert_problem(response, 503, "dependency_unavailable")


async def test_s3_down_is_a_fast_503_and_the_retry_succeeds_when_it_is_up(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    client = await make_client(
        s3_bucket="littlewriter-faults",
        s3_endpoint_url=f"http://127.0.0.1:{port}",
        s3_region="us-east-1",
        s3_connect_timeout_seconds=0.5,
        s3_max_attempts=1,
    )
    began = time.monotonic()
    response = await client.post("/v1/books", json=BOOK, headers=auth())
    assert time.monotonic() - began < 3
    assert_problem(response, 503, "dependency_unavailable")
    assert (await client.get("/v1/books/current", headers=auth())).status_code == 404
    ready = (await client.get("/ready")).json()
    assert ready["status"] == "unavailable" and ready["checks"]["images"] != "ok"

    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    try:
        boto3.client(
            "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1"
        ).create_bucket(Bucket="littlewriter-faults")
        again = await client.post("/v1/books", json=BOOK, headers=auth())
        assert again.status_code == 201
        cover = again.json()["cover_image_url"]
        assert cover.startswith(f"http://127.0.0.1:{port}/littlewriter-faults/staging/alice/")
        assert (await client.get("/ready")).status_code == 200
    finally:
        s3.stop()
