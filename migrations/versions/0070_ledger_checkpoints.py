"""Ledger check checkpoints: verified totals and history heads, so the default check reads
only what was written since; and an index of the holds still pending.

Revision ID: 0070_ledger_checkpoints
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0070_ledger_checkpoints"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("ledger_checkpoints",)
depends_on: str | Sequence[str] | None = "0001_ledger"

ID = sa.String(length=100)


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("transfers", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_table(
        "ledger_checkpoint_accounts",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("legs", sa.BigInteger(), nullable=False),
        sa.Column("links", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_ledger_checkpoint_accounts")),
    )
    op.create_table(
        "ledger_checkpoint_heads",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("transfer_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "transfer_id", name=op.f("pk_ledger_checkpoint_heads")
        ),
    )
    op.create_index(
        "ix_ledger_transfers_pending",
        "ledger_transfers",
        ["seq"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_transfers_pending", table_name="ledger_transfers")
    op.drop_table("ledger_checkpoint_heads")
    op.drop_table("ledger_checkpoint_accounts")
    op.drop_table("ledger_checkpoints")
