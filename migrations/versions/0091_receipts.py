"""Collecting money, donations: the donor's choices, tax receipts (immutable once issued)
and their gapless counters per organisation and year, donors' names and addresses.

Revision ID: 0091_receipts
Revises: 0090_collecting
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0091_receipts"
down_revision: str | None = "0090_collecting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONTENT = (
    "id, organisation_id, year, number, intent_id, donor_member_id, donor_name, "
    "donor_address, org_legal_name, org_address, org_registry_id, org_purpose, amount_minor, "
    "currency, donated_at, issued_at, form, nature, payment_mode, legal_article, cancels_id"
)
_PG_FUNCTION = """
CREATE FUNCTION tax_receipts_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a tax receipt is immutable once issued';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "donations",
        sa.Column("intent_id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=280), nullable=True),
        sa.Column("anonymous", sa.Boolean(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["intent_id"],
            ["payment_intents.id"],
            name=op.f("fk_donations_intent_id_payment_intents"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["members.id"], name=op.f("fk_donations_organisation_id_members")
        ),
        sa.PrimaryKeyConstraint("intent_id", name=op.f("pk_donations")),
    )
    op.create_index("ix_donations_organisation_id", "donations", ["organisation_id"])
    op.create_table(
        "receipt_counters",
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("last_number >= 0", name=op.f("ck_receipt_counters_last_number")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["members.id"],
            name=op.f("fk_receipt_counters_organisation_id_members"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", "year", name=op.f("pk_receipt_counters")),
    )
    op.create_table(
        "tax_receipts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("intent_id", sa.String(length=40), nullable=False),
        sa.Column("donor_member_id", sa.String(length=40), nullable=False),
        sa.Column("donor_name", sa.String(length=200), nullable=False),
        sa.Column("donor_address", sa.Text(), nullable=False),
        sa.Column("org_legal_name", sa.String(length=200), nullable=False),
        sa.Column("org_address", sa.Text(), nullable=False),
        sa.Column("org_registry_id", sa.String(length=40), nullable=False),
        sa.Column("org_purpose", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("donated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("form", sa.String(length=60), nullable=False),
        sa.Column("nature", sa.String(length=60), nullable=False),
        sa.Column("payment_mode", sa.String(length=60), nullable=False),
        sa.Column("legal_article", sa.String(length=60), nullable=False),
        sa.Column("cancels_id", sa.String(length=40), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_tax_receipts_amount_positive")),
        sa.CheckConstraint("number > 0", name=op.f("ck_tax_receipts_number_positive")),
        sa.ForeignKeyConstraint(
            ["cancels_id"],
            ["tax_receipts.id"],
            name=op.f("fk_tax_receipts_cancels_id_tax_receipts"),
        ),
        sa.ForeignKeyConstraint(
            ["donor_member_id"],
            ["members.id"],
            name=op.f("fk_tax_receipts_donor_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["intent_id"],
            ["payment_intents.id"],
            name=op.f("fk_tax_receipts_intent_id_payment_intents"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["members.id"],
            name=op.f("fk_tax_receipts_organisation_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_receipts")),
        sa.UniqueConstraint("cancels_id", name=op.f("uq_tax_receipts_cancels_id")),
        sa.UniqueConstraint("organisation_id", "year", "number", name="uq_tax_receipts_number"),
    )
    op.create_index("ix_tax_receipts_donor_member_id", "tax_receipts", ["donor_member_id"])
    op.create_index("ix_tax_receipts_intent_id", "tax_receipts", ["intent_id"])
    op.create_table(
        "donor_details",
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_donor_details_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_donor_details")),
    )
    # Immutable once issued: only ``cancelled_at`` may be set (by its correction).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            f"CREATE TRIGGER tax_receipts_immutable BEFORE UPDATE OF {_CONTENT} "
            "ON tax_receipts FOR EACH ROW EXECUTE FUNCTION tax_receipts_immutable()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER tax_receipts_immutable BEFORE UPDATE OF {_CONTENT} "
            "ON tax_receipts BEGIN SELECT RAISE(ABORT, 'a tax receipt is immutable once issued'); "
            "END"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER tax_receipts_immutable ON tax_receipts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION tax_receipts_immutable()")
    op.drop_table("donor_details")
    op.drop_index("ix_tax_receipts_intent_id", table_name="tax_receipts")
    op.drop_index("ix_tax_receipts_donor_member_id", table_name="tax_receipts")
    op.drop_table("tax_receipts")
    op.drop_table("receipt_counters")
    op.drop_index("ix_donations_organisation_id", table_name="donations")
    op.drop_table("donations")
