"""Finished books on SQLAlchemy 2: SQLite (embedded) or MySQL/MariaDB, one Alembic schema."""

from app.infrastructure.database.engine import build_engine
from app.infrastructure.database.migrations import (
    current_revision,
    downgrade,
    is_at_head,
    upgrade_to_head,
)
from app.infrastructure.database.repository import SqlFinishedBookRepository

__all__ = [
    "SqlFinishedBookRepository",
    "build_engine",
    "current_revision",
    "downgrade",
    "is_at_head",
    "upgrade_to_head",
]
