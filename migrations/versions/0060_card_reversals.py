"""Card processor events (applied once), card refunds, disputes; sandbox processor refunds.

Revision ID: 0060_card_reversals
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0060_card_reversals"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("card_reversals",)
depends_on: str | Sequence[str] | None = "0003_flow"  # refunds and disputes name top-ups

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "psp_events",
        sa.Column("processor", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("processor", "event_id", name=op.f("pk_psp_events")),
    )
    op.create_table(
        "sandbox_psp_refunds",
        sa.Column("refund_ref", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("processor_ref", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_sandbox_psp_refunds_amount_positive")),
        sa.PrimaryKeyConstraint("refund_ref", name=op.f("pk_sandbox_psp_refunds")),
        sa.UniqueConstraint("request_id", name=op.f("uq_sandbox_psp_refunds_request_id")),
    )
    op.create_index(
        op.f("ix_sandbox_psp_refunds_processor_ref"),
        "sandbox_psp_refunds",
        ["processor_ref"],
        unique=False,
    )
    op.create_table(
        "card_disputes",
        sa.Column("dispute_ref", sa.String(length=100), nullable=False),
        sa.Column("topup_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("frozen_minor", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'won', 'lost')", name=op.f("ck_card_disputes_status")
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_card_disputes_amount_positive")),
        sa.CheckConstraint(
            "frozen_minor + shortfall_minor = amount_minor",
            name=op.f("ck_card_disputes_parts_add_up"),
        ),
        sa.CheckConstraint(
            "frozen_minor >= 0 AND shortfall_minor >= 0",
            name=op.f("ck_card_disputes_parts_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_card_disputes_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["topup_id"], ["topups.id"], name=op.f("fk_card_disputes_topup_id_topups")
        ),
        sa.PrimaryKeyConstraint("dispute_ref", name=op.f("pk_card_disputes")),
    )
    op.create_index(op.f("ix_card_disputes_topup_id"), "card_disputes", ["topup_id"], unique=False)
    op.create_table(
        "card_refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("topup_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("processor_refund_ref", sa.String(length=100), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.CheckConstraint(
            "origin IN ('operator', 'processor')", name=op.f("ck_card_refunds_origin")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_card_refunds_status")
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_card_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_card_refunds_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["topup_id"], ["topups.id"], name=op.f("fk_card_refunds_topup_id_topups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_refunds")),
        sa.UniqueConstraint(
            "processor_refund_ref", name=op.f("uq_card_refunds_processor_refund_ref")
        ),
    )
    op.create_index(op.f("ix_card_refunds_topup_id"), "card_refunds", ["topup_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_card_refunds_topup_id"), table_name="card_refunds")
    op.drop_table("card_refunds")
    op.drop_index(op.f("ix_card_disputes_topup_id"), table_name="card_disputes")
    op.drop_table("card_disputes")
    op.drop_index(op.f("ix_sandbox_psp_refunds_processor_ref"), table_name="sandbox_psp_refunds")
    op.drop_table("sandbox_psp_refunds")
    op.drop_table("psp_events")
