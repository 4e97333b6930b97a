"""The SQLAlchemy engine for SQLite (embedded) or MySQL/MariaDB, and its failures translated."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import URL, Engine, StaticPool, create_engine, event, exc, make_url
from sqlalchemy.orm import sessionmaker

from app.application.errors import DatabaseUnavailable
from app.infrastructure.deadlines import in_thread_within

P = ParamSpec("P")
T = TypeVar("T")

MYSQL_BACKENDS = frozenset({"mysql", "mariadb"})

# Errors that mean "the database did not answer", as opposed to a bug in a statement.
_UNAVAILABLE = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.DisconnectionError,
    exc.TimeoutError,
    TimeoutError,
    ConnectionError,
)


def build_engine(
    url: str | URL,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 15.0,
    write_timeout: float = 15.0,
    pool_timeout: float = 10.0,
) -> Engine:
    """An engine for `sqlite:///path` or `mysql+pymysql://...`; nothing connects until first use."""
    url = make_url(url)
    # Keep Hangul readable in the JSON column instead of \uXXXX escapes.
    json_serializer = partial(json.dumps, ensure_ascii=False)
    backend = url.get_backend_name()
    if backend in MYSQL_BACKENDS:
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_recycle=1800,
            pool_timeout=pool_timeout,
            json_serializer=json_serializer,
            connect_args={
                "charset": "utf8mb4",
                "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "write_timeout": write_timeout,
            },
        )
    if backend == "sqlite":
        return _sqlite_engine(url, busy_timeout=connect_timeout, json_serializer=json_serializer)
    raise ValueError(f"unsupported database backend {backend!r}: use sqlite or mysql+pymysql")


def _sqlite_engine(url: URL, *, busy_timeout: float, json_serializer: Any) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    options: dict[str, Any] = {"connect_args": {"timeout": busy_timeout}}
    if in_memory:
        # One shared connection, or every worker thread would see its own empty database.
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    elif not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, json_serializer=json_serializer, **options)
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # Off by default in SQLite: without it ON DELETE CASCADE does nothing.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn every SQLAlchemy/driver failure into the port's own error, `DatabaseUnavailable`."""
    try:
        yield
    except _UNAVAILABLE as error:
        raise DatabaseUnavailable("the finished-book database is unreachable") from error
    except exc.SQLAlchemyError as error:
        # No vendor error leaves the adapter; the cause stays chained for the logs.
        raise DatabaseUnavailable("the finished-book database failed the request") from error


class SqlAdapter:
    """What every adapter on the database shares: its sessions, and each call run in a worker
    thread within `deadline` seconds (pre-ping and reconnect included), every failure of it
    becoming `DatabaseUnavailable` naming `what` ("the share links", ...)."""

    def __init__(self, engine: Engine, *, deadline: float = 2.5, what: str) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._deadline = deadline
        self._what = what

    async def _in_thread(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with database_errors():
            return await in_thread_within(self._deadline, self._timed_out, work, *args, **kwargs)

    def _timed_out(self, why: str) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"{self._what} database failed: {why}")
