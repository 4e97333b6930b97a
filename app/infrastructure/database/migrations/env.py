"""Alembic environment: runs on the connection handed over in `config.attributes["connection"]`.

Falls back to `sqlalchemy.url` (online) or plain SQL output (offline) for the alembic command line.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app.infrastructure.database.engine import build_engine
from app.infrastructure.database.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url set")
    engine = build_engine(url)
    try:
        with engine.begin() as own_connection:
            _configure(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
