"""The admin's audit log (`admin_actions`), and an index on (finished_at, id) for the admin's
list of every user's finished books, newest first, and a day's totals.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")


def _ascii(length: int) -> sa.types.TypeEngine[str]:
    return sa.CHAR(length).with_variant(
        mysql.CHAR(length, charset="ascii", collation="ascii_bin"), *_MYSQL
    )


def _user_id() -> sa.types.TypeEngine[str]:
    return sa.String(64).with_variant(
        mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"), *_MYSQL
    )


def _moment() -> sa.types.TypeEngine[object]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def upgrade() -> None:
    op.create_index("ix_books_finished_at_id", "books", ["finished_at", "id"])
    op.create_table(
        "admin_actions",
        sa.Column("id", _ascii(36), nullable=False),
        sa.Column("at", _moment(), nullable=False),
        sa.Column("admin_id", _user_id(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("user_id", _user_id(), nullable=True),
        sa.Column("book_id", _ascii(36), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_admin_actions"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_admin_actions_at_id", "admin_actions", ["at", "id"])


def downgrade() -> None:
    op.drop_index("ix_admin_actions_at_id", table_name="admin_actions")
    op.drop_table("admin_actions")
    op.drop_index("ix_books_finished_at_id", table_name="books")
