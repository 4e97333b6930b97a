"""Share links: one per finished book, found by the SHA-256 of its token, deleted with the book.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")


def _ascii(length: int) -> sa.types.TypeEngine[str]:
    return sa.CHAR(length).with_variant(
        mysql.CHAR(length, charset="ascii", collation="ascii_bin"), *_MYSQL
    )


def _moment() -> sa.types.TypeEngine[object]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", _ascii(36), nullable=False),
        sa.Column("book_id", _ascii(36), nullable=False),
        sa.Column("token_digest", _ascii(64), nullable=False),
        sa.Column("created_at", _moment(), nullable=False),
        sa.Column("expires_at", _moment(), nullable=True),
        sa.ForeignKeyConstraint(
            ["book_id"], ["books.id"], name="fk_share_links_book_id_books", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_share_links"),
        sa.UniqueConstraint("book_id", name="uq_share_links_book_id"),
        sa.UniqueConstraint("token_digest", name="uq_share_links_token_digest"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("share_links")
