"""Sandbox posts carry their author's idempotency key: a retried send posts once.

Revision ID: 0030_idempotency
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_idempotency"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("chaos",)
depends_on: str | Sequence[str] | None = "0002_sandbox"


def upgrade() -> None:
    op.add_column(
        "sandbox_posts", sa.Column("idempotency_key", sa.String(length=64), nullable=True)
    )
    op.create_index(
        "uq_sandbox_posts_idempotency",
        "sandbox_posts",
        ["author_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_sandbox_posts_idempotency", table_name="sandbox_posts")
    op.drop_column("sandbox_posts", "idempotency_key")
