"""The Alembic revisions, run from code on SQLite and on MariaDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, Engine, inspect, text

from app.application.errors import DatabaseUnavailable
from app.infrastructure.database import (
    build_engine,
    current_revision,
    downgrade,
    is_at_head,
    upgrade_to_head,
)
from app.infrastructure.database.migrations import head_revisions, revisions, upgrade
from app.infrastructure.database.models import Base

APP_TABLES = {"books", "book_pages"}


@pytest.fixture
def empty_engine(empty_database_url: URL) -> Iterator[Engine]:
    engine = build_engine(empty_database_url)
    yield engine
    engine.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_is_at_head_is_false_before_upgrade_and_true_after(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    assert is_at_head(empty_engine) is False

    upgrade_to_head(empty_engine)

    assert is_at_head(empty_engine) is True
    assert {current_revision(empty_engine)} == head_revisions()
    assert tables(empty_engine) >= APP_TABLES


def test_every_revision_upgrades_and_downgrades_one_step_at_a_time(empty_engine: Engine) -> None:
    chain = revisions()
    assert chain, "no revisions are packaged"

    for revision in chain:
        upgrade(empty_engine, revision)
        assert current_revision(empty_engine) == revision
    assert is_at_head(empty_engine)

    for previous in reversed([None, *chain[:-1]]):
        downgrade(empty_engine, previous or "base")
        assert current_revision(empty_engine) == previous
    assert not tables(empty_engine) & APP_TABLES


def test_downgrade_to_base_removes_the_tables_and_upgrade_restores_them(
    empty_engine: Engine,
) -> None:
    upgrade_to_head(empty_engine)

    downgrade(empty_engine, "base")

    assert not tables(empty_engine) & APP_TABLES
    assert is_at_head(empty_engine) is False
    upgrade_to_head(empty_engine)
    assert is_at_head(empty_engine) is True


def test_upgrading_a_database_already_at_head_changes_nothing(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)

    upgrade_to_head(empty_engine)

    assert is_at_head(empty_engine) is True


def test_migrated_schema_matches_the_models(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)

    with empty_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert differences == []


def test_upgrade_to_head_accepts_a_url(empty_database_url: URL) -> None:
    upgrade_to_head(empty_database_url)

    engine = build_engine(empty_database_url)
    try:
        assert is_at_head(engine) is True
    finally:
        engine.dispose()


def test_upgrade_to_head_creates_the_sqlite_file_and_its_missing_directories(
    tmp_path: Path,
) -> None:
    database = tmp_path / "data" / "nested" / "littlewriter.db"

    upgrade_to_head(f"sqlite:///{database}")

    assert database.is_file()


@pytest.mark.services
def test_mysql_tables_are_utf8mb4_innodb(mysql_databases: Callable[[], URL]) -> None:
    engine = build_engine(mysql_databases())
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT table_name, engine, table_collation FROM information_schema.tables"
                    " WHERE table_schema = DATABASE()"
                )
            ).all()
    finally:
        engine.dispose()

    by_name = {name: (engine_name, collation) for name, engine_name, collation in rows}
    for table in APP_TABLES:
        engine_name, collation = by_name[table]
        assert engine_name == "InnoDB"
        assert collation.startswith("utf8mb4_")


def test_an_unreachable_database_raises_database_unavailable() -> None:
    engine = build_engine("mysql+pymysql://root@127.0.0.1:1/x", connect_timeout=1)
    try:
        with pytest.raises(DatabaseUnavailable):
            is_at_head(engine)
        with pytest.raises(DatabaseUnavailable):
            upgrade_to_head(engine)
    finally:
        engine.dispose()


def test_revision_0003_makes_user_ids_compare_exactly_keeping_the_rows(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0002")
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO books (id, user_id, title, language, reader_age, setting, characters,"
                " page_count, cover_key, created_at, finished_at, finished_by) VALUES"
                " ('00000000-0000-0000-0000-000000000001', 'paula', 'T', 'en', NULL, '', '[]',"
                " 1, 'books/x/cover.png', '2026-11-30 10:00:00', '2026-11-30 10:00:00', 'user')"
            )
        )

    def owners_of(user: str) -> list[str]:
        with empty_engine.connect() as connection:
            rows = connection.execute(
                text("SELECT user_id FROM books WHERE user_id = :u"), {"u": user}
            )
            return [row[0] for row in rows]

    if empty_engine.dialect.name != "sqlite":
        assert owners_of("PAULA") == ["paula"]  # the defect: a case-insensitive collation
    upgrade_to_head(empty_engine)
    assert owners_of("PAULA") == []
    assert owners_of("paula") == ["paula"]
