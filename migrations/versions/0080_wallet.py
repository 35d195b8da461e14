"""Wallet: organisations' legal names (shown on the confirmation page) and instance facts
(the URL the running server answers on, so one-shot commands link to it).

Revision ID: 0080_wallet
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0080_wallet"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("wallet",)
depends_on: str | Sequence[str] | None = "0003_flow"


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("registry_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_organisations_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_organisations")),
    )
    op.create_table(
        "instance_facts",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_facts")),
    )


def downgrade() -> None:
    op.drop_table("instance_facts")
    op.drop_table("organisations")
