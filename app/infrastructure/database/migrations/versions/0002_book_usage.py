"""Keep what generating a finished book cost: tokens in and out, images generated.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("books") as batch:
        batch.add_column(
            sa.Column("tokens_in", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("tokens_out", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("images_generated", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("books") as batch:
        batch.drop_column("images_generated")
        batch.drop_column("tokens_out")
        batch.drop_column("tokens_in")
