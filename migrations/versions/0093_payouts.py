"""Collecting money, payouts to IBANs and the SEPA batches (pain.001.001.09) they go in.

Revision ID: 0093_payouts
Revises: 0092_pots
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0093_payouts"
down_revision: str | None = "0092_pots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payout_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("count > 0", name=op.f("ck_payout_batches_count_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_batches")),
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source_account", sa.String(length=100), nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column("pot_id", sa.String(length=40), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("creditor_name", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payouts_amount_positive")),
        sa.CheckConstraint(
            "state IN ('pending', 'batched', 'executed', 'rejected')",
            name=op.f("ck_payouts_state"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["payout_batches.id"], name=op.f("fk_payouts_batch_id_payout_batches")
        ),
        sa.ForeignKeyConstraint(["pot_id"], ["pots.id"], name=op.f("fk_payouts_pot_id_pots")),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["members.id"], name=op.f("fk_payouts_requested_by_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    op.create_index("ix_payouts_batch_id", "payouts", ["batch_id"])
    op.create_index("ix_payouts_state", "payouts", ["state"])


def downgrade() -> None:
    op.drop_index("ix_payouts_state", table_name="payouts")
    op.drop_index("ix_payouts_batch_id", table_name="payouts")
    op.drop_table("payouts")
    op.drop_table("payout_batches")
