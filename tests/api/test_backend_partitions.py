"""A backend cut off the network (a black hole: connections accepted, nothing ever answered),
at default settings: every request that needs it is a 503 `dependency_unavailable` with
Retry-After within 3 s, /ready names it within the same time, and all is well once it is back.
The cut is made by a TCP proxy the test starts between the service and the real server."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy as sa

from app.infrastructure.database import upgrade_to_head
from tests.api.conftest import BOOK, ClientFactory, assert_problem, auth, start, write
from tests.fault_proxy import FaultProxy
from tests.integration.services import service_url
from tests.s3_server import create_bucket

pytest_plugins = ["tests.s3_server"]

WITHIN = 3.0


async def timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = await call
    return response, time.monotonic() - began


async def assert_fast_503(call: Callable[[], Awaitable[httpx.Response]]) -> None:
    response, took = await timed(call())
    assert took < WITHIN, f"{response.status_code} after {took:.1f} s"
    assert_problem(response, 503, "dependency_unavailable")
    assert int(response.headers["retry-after"]) >= 1


async def assert_ready_names(client: httpx.AsyncClient, check: str) -> None:
    response, took = await timed(client.get("/ready"))
    assert took < WITHIN
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks[check] != "ok" and all(v == "ok" for k, v in checks.items() if k != check)


@pytest.fixture
async def mysql_proxy() -> AsyncIterator[tuple[FaultProxy, str]]:
    server = sa.make_url(service_url("LW_TEST_MYSQL_URL"))
    name = f"lw_partition_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    database = server.set(database=name)
    upgrade_to_head(database)
    try:
        async with FaultProxy(server.host or "127.0.0.1", server.port or 3306) as proxy:
            url = database.set(host="127.0.0.1", port=proxy.port)
            yield proxy, url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE {name}"))
        admin.dispose()


async def test_a_partitioned_database_is_a_fast_503_and_ready_names_it(
    make_client: ClientFactory, mysql_proxy: tuple[FaultProxy, str]
) -> None:
    proxy, url = mysql_proxy
    client = await make_client(database_url=url)
    await start(client, page_count=1)
    assert (await write(client, "the end")).status_code == 200
    assert (await client.get("/v1/books", headers=auth())).status_code == 200

    proxy.partition()
    await assert_fast_503(lambda: client.get("/v1/books", headers=auth()))
    await assert_fast_503(
        lambda: client.post("/v1/books/current/finish", json={"title": "Kept"}, headers=auth())
    )
    await assert_ready_names(client, "database")

    proxy.heal()
    finished = await client.post("/v1/books/current/finish", json={"title": "Kept"}, headers=auth())
    assert finished.status_code == 201
    shelf = await client.get("/v1/books", headers=auth())
    assert [b["title"] for b in shelf.json()["items"]] == ["Kept"]


async def test_a_partitioned_s3_is_a_fast_answer_and_ready_names_it(
    make_client: ClientFactory, s3_endpoint_url: str, s3_client: object
) -> None:
    bucket = f"lw-partition-{uuid.uuid4().hex[:8]}"
    create_bucket(s3_client, bucket)  # type: ignore[arg-type]
    endpoint = sa.make_url(s3_endpoint_url.replace("http://", "mysql://"))
    async with FaultProxy(endpoint.host or "127.0.0.1", endpoint.port or 80) as proxy:
        client = await make_client(
            s3_bucket=bucket, s3_endpoint_url=f"http://127.0.0.1:{proxy.port}"
        )
        await start(client, page_count=2)

        proxy.partition()
        # A page written at once: its text is kept, its picture fails fast (draw it again later).
        response, took = await timed(write(client, "a map"))
        assert took < WITHIN, took
        assert response.status_code == 200
        assert response.json()["pages"][0]["image_status"] == "failed"
        await assert_fast_503(lambda: client.post("/v1/books", json=BOOK, headers=auth("bob")))
        await assert_ready_names(client, "images")

        proxy.heal()
        redrawn = await client.post("/v1/books/current/pages/1/illustration", headers=auth())
        assert redrawn.status_code == 200
        assert redrawn.json()["pages"][0]["image_status"] == "ready"


async def test_a_partitioned_redis_is_a_fast_503_and_ready_names_it(
    make_client: ClientFactory,
) -> None:
    server = urlsplit(service_url("LW_TEST_REDIS_URL"))
    user = f"partitioned-{uuid.uuid4().hex[:8]}"
    async with FaultProxy(server.hostname or "127.0.0.1", server.port or 6379) as proxy:
        credentials, _, _ = server.netloc.rpartition("@")
        netloc = f"{credentials}@" if credentials else ""
        through_proxy = server._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}")
        client = await make_client(redis_url=urlunsplit(through_proxy))
        await start(client, user, page_count=2)

        proxy.partition()
        await assert_fast_503(lambda: client.get("/v1/books/current", headers=auth(user)))
        await assert_fast_503(lambda: write(client, "a map", user))
        await assert_ready_names(client, "store")

        proxy.heal()
        healed = await write(client, "a map", user)
        assert healed.status_code == 200, healed.text
        assert (await client.delete("/v1/books/current", headers=auth(user))).status_code == 204
