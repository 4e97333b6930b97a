"""Integration fixtures, one clearly marked group per backend."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis
from sqlalchemy import URL, Engine, make_url, text

from app.infrastructure.database import build_engine, upgrade_to_head
from app.infrastructure.database.repository import SqlFinishedBookRepository
from tests.integration.services import service_url

# --------------------------------------------------------------------------------------------
# Finished-book database (SQLAlchemy): SQLite always, MariaDB/MySQL when LW_TEST_MYSQL_URL is set.
# --------------------------------------------------------------------------------------------

DATABASE_BACKENDS = [pytest.param("sqlite"), pytest.param("mysql", marks=pytest.mark.services)]

CreateDatabase = Callable[[], URL]


@pytest.fixture(scope="session")
def mysql_databases() -> Iterator[CreateDatabase]:
    """Creates uniquely named, empty utf8mb4 databases on the test server; drops them at the end."""
    server = make_url(service_url("LW_TEST_MYSQL_URL"))
    admin = build_engine(server)
    created: list[str] = []

    def create() -> URL:
        name = f"lw_test_{secrets.token_hex(6)}"
        with admin.begin() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        created.append(name)
        return server.set(database=name)

    yield create
    with admin.begin() as connection:
        for name in created:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


@pytest.fixture(scope="session")
def mysql_migrated_url(mysql_databases: CreateDatabase) -> URL:
    """One migrated database shared by the repository tests of a session (emptied after each)."""
    url = mysql_databases()
    upgrade_to_head(url)
    return url


@pytest.fixture(params=DATABASE_BACKENDS)
def database_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def empty_database_url(
    database_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> URL:
    """A database with no tables at all, fresh for this test."""
    if database_backend == "mysql":
        create: CreateDatabase = request.getfixturevalue("mysql_databases")
        return create()
    return make_url(f"sqlite:///{tmp_path / 'var' / 'littlewriter.db'}")


@pytest.fixture
def migrated_engine(
    database_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """An engine on a database at the migration head, with no rows left by other tests."""
    if database_backend == "mysql":
        engine = build_engine(request.getfixturevalue("mysql_migrated_url"))
    else:
        engine = build_engine(f"sqlite:///{tmp_path / 'littlewriter.db'}")
        upgrade_to_head(engine)
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM share_links"))
        connection.execute(text("DELETE FROM book_pages"))
        connection.execute(text("DELETE FROM books"))
    engine.dispose()


@pytest.fixture
def finished_books(migrated_engine: Engine) -> SqlFinishedBookRepository:
    return SqlFinishedBookRepository(migrated_engine)


# --------------------------------------------------------------------------------------------
# Redis: the embedded fakeredis always, a real Redis when LW_TEST_REDIS_URL is set.
# --------------------------------------------------------------------------------------------


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.services)])
async def redis_client(request: pytest.FixtureRequest) -> AsyncIterator[Redis]:
    if request.param == "fakeredis":
        client: Redis = FakeAsyncRedis(server=FakeServer())
    else:
        client = Redis.from_url(service_url("LW_TEST_REDIS_URL"), socket_timeout=2)
    yield client
    await client.aclose()
