"""Collecting money, pots: a closing date, closed by the owner, all-or-nothing campaigns
and their outcome; each contributor's choice to show their name.

Revision ID: 0092_pots
Revises: 0091_receipts
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0092_pots"
down_revision: str | None = "0091_receipts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pots") as batch:
        batch.add_column(sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("all_or_nothing", sa.Boolean(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("outcome", sa.String(length=10), nullable=True))
        batch.create_check_constraint(
            op.f("ck_pots_outcome"), "outcome IS NULL OR outcome IN ('succeeded', 'failed')"
        )
        batch.create_check_constraint(
            op.f("ck_pots_campaign_terms"),
            "NOT all_or_nothing OR (goal_minor IS NOT NULL AND closes_at IS NOT NULL)",
        )
    op.create_table(
        "pot_choices",
        sa.Column("intent_id", sa.String(length=40), nullable=False),
        sa.Column("pot_id", sa.String(length=40), nullable=False),
        sa.Column("show_name", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["intent_id"],
            ["payment_intents.id"],
            name=op.f("fk_pot_choices_intent_id_payment_intents"),
        ),
        sa.ForeignKeyConstraint(["pot_id"], ["pots.id"], name=op.f("fk_pot_choices_pot_id_pots")),
        sa.PrimaryKeyConstraint("intent_id", name=op.f("pk_pot_choices")),
    )


def downgrade() -> None:
    op.drop_table("pot_choices")
    with op.batch_alter_table("pots") as batch:
        batch.drop_constraint(op.f("ck_pots_campaign_terms"), type_="check")
        batch.drop_constraint(op.f("ck_pots_outcome"), type_="check")
        for column in ("outcome", "all_or_nothing", "closed_at", "closes_at"):
            batch.drop_column(column)
