"""Create books and book_pages.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types: a revision must not change when the models do.
_MYSQL = ("mysql", "mariadb")


def _book_id() -> sa.types.TypeEngine[str]:
    return sa.CHAR(36).with_variant(mysql.CHAR(36, charset="ascii", collation="ascii_bin"), *_MYSQL)


def _datetime() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def upgrade() -> None:
    op.create_table(
        "books",
        sa.Column("id", _book_id(), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("reader_age", sa.SmallInteger(), nullable=True),
        sa.Column("setting", sa.String(200), nullable=False),
        sa.Column("characters", sa.JSON(), nullable=False),
        sa.Column("page_count", sa.SmallInteger(), nullable=False),
        sa.Column("cover_key", sa.String(255), nullable=False),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("finished_at", _datetime(), nullable=False),
        sa.Column("finished_by", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_books"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_books_user_id_finished_at_id", "books", ["user_id", "finished_at", "id"])
    op.create_table(
        "book_pages",
        sa.Column("book_id", _book_id(), nullable=False),
        sa.Column("number", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image_key", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("book_id", "number", name="pk_book_pages"),
        sa.ForeignKeyConstraint(
            ["book_id"], ["books.id"], name="fk_book_pages_book_id_books", ondelete="CASCADE"
        ),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("book_pages")
    op.drop_index("ix_books_user_id_finished_at_id", table_name="books")
    op.drop_table("books")
