"""X adapter: estimated spend per day and kind of call, outgoing messages by idempotency key.

Revision ID: 0050_x
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0050_x"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("x",)
depends_on: str | Sequence[str] | None = "0040_networks"


def upgrade() -> None:
    op.create_table(
        "x_spend",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("micro_usd", sa.BigInteger(), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("calls >= 0 AND micro_usd >= 0", name=op.f("ck_x_spend_non_negative")),
        sa.PrimaryKeyConstraint("day", "kind", name=op.f("pk_x_spend")),
    )
    op.create_table(
        "x_sends",
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remote_id", sa.String(length=40), nullable=True),
        sa.CheckConstraint("kind IN ('reply', 'dm')", name=op.f("ck_x_sends_kind")),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_x_sends")),
    )


def downgrade() -> None:
    op.drop_table("x_sends")
    op.drop_table("x_spend")
