"""Compare user ids exactly: ASCII-binary `books.user_id` on MySQL and MariaDB, whose default
collations ignore case, so that a token for `PAULA` no longer lists `paula`'s books. SQLite
compares text bytewise already: nothing to change there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")


def upgrade() -> None:
    if op.get_bind().dialect.name not in _MYSQL:
        return
    # The index on (user_id, finished_at, id) is rebuilt with the column.
    op.alter_column(
        "books",
        "user_id",
        existing_type=sa.String(64),
        type_=mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"),
        existing_nullable=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name not in _MYSQL:
        return
    op.alter_column(
        "books",
        "user_id",
        existing_type=mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"),
        type_=sa.String(64),  # the table's default collation again
        existing_nullable=False,
    )
