"""Bluesky: the bot's session kept across restarts (sealed), and direct messages started,
so a retried send is made once (the chat API takes no idempotency key).

Revision ID: 0045_bluesky
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0045_bluesky"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("bluesky",)
depends_on: str | Sequence[str] | None = "0040_networks"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bluesky_sessions",
        sa.Column("service_url", sa.String(length=255), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("service_url", "identifier", name=op.f("pk_bluesky_sessions")),
    )
    op.create_table(
        "bluesky_dm_sends",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("convo_id", sa.String(length=100), nullable=False),
        sa.Column("after_rev", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_bluesky_dm_sends")),
    )
    op.create_index("ix_bluesky_dm_sends_convo", "bluesky_dm_sends", ["convo_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bluesky_dm_sends_convo", table_name="bluesky_dm_sends")
    op.drop_table("bluesky_dm_sends")
    op.drop_table("bluesky_sessions")
