"""Collecting money, organisations: registry number and kind, address, purpose, tax
receipts allowed, IBAN/BIC, who registered it and when it was verified.

Revision ID: 0090_collecting
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0090_collecting"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("collecting",)
depends_on: str | Sequence[str] | None = "0080_wallet"


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("registry_kind", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("address", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("purpose", sa.Text(), server_default="", nullable=False))
        batch.add_column(
            sa.Column("tax_receipts", sa.Boolean(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("iban", sa.String(length=34), nullable=True))
        batch.add_column(sa.Column("bic", sa.String(length=11), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            op.f("fk_organisations_created_by_members"), "members", ["created_by"], ["id"]
        )
        batch.create_check_constraint(
            op.f("ck_organisations_registry_kind"),
            "registry_kind IS NULL OR registry_kind IN ('siren', 'siret', 'rna')",
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_constraint(op.f("ck_organisations_registry_kind"), type_="check")
        batch.drop_constraint(op.f("fk_organisations_created_by_members"), type_="foreignkey")
        for column in (
            "verified_at",
            "created_by",
            "bic",
            "iban",
            "tax_receipts",
            "purpose",
            "address",
            "registry_kind",
        ):
            batch.drop_column(column)
