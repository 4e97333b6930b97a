"""Alembic driven from code: the config is built here, so it works from an installed package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine

from app.infrastructure.database.engine import build_engine, database_errors

SCRIPT_LOCATION = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """Config for the packaged revisions; env.py runs them on `connection` when one is given."""
    config = Config()
    # ConfigParser interpolation would read a '%' in the path as a placeholder.
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def upgrade_to_head(target: Engine | str | URL) -> None:
    """Bring the database up to the newest revision (a no-op when it is there already)."""
    with _engine(target) as engine:
        upgrade(engine, "head")


def upgrade(engine: Engine, revision: str) -> None:
    with database_errors(), engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Step back to `revision` ("base" removes every table)."""
    with database_errors(), engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None when it was never migrated."""
    with database_errors(), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_at_head(engine: Engine) -> bool:
    """True when the schema is exactly the packaged head, so the server may start on it."""
    with database_errors(), engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == head_revisions()


@contextmanager
def _engine(target: Engine | str | URL) -> Iterator[Engine]:
    if isinstance(target, Engine):
        yield target
        return
    engine = build_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()
