"""Ledger: accounts, balance rows (sharded for system accounts), transfers.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_ledger"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("ledger",)
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=100)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("flags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("shards", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("shards >= 1", name=op.f("ck_ledger_accounts_shards_positive")),
        sa.CheckConstraint(
            "(flags & 4) = 0 OR (flags & 3) = 0",
            name=op.f("ck_ledger_accounts_sharded_unchecked"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
    )
    op.create_table(
        "ledger_balances",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("shard", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("flags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_id", ID, nullable=True),
        sa.CheckConstraint(
            "(flags & 4) <> 0 OR (debits_pending >= 0 AND debits_posted >= 0"
            " AND credits_pending >= 0 AND credits_posted >= 0)",
            name=op.f("ck_ledger_balances_non_negative"),
        ),
        sa.CheckConstraint(
            "(flags & 1) = 0 OR debits_pending + debits_posted <= credits_posted",
            name=op.f("ck_ledger_balances_debits_within_credits"),
        ),
        sa.CheckConstraint(
            "(flags & 2) = 0 OR credits_pending + credits_posted <= debits_posted",
            name=op.f("ck_ledger_balances_credits_within_debits"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_balances_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "shard", name=op.f("pk_ledger_balances")),
        postgresql_with={"fillfactor": 50},  # room for HOT updates of balances
    )
    op.create_table(
        "ledger_transfers",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("id", ID, nullable=False),
        sa.Column("debit_account_id", ID, nullable=False),
        sa.Column("credit_account_id", ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("pending_id", ID, nullable=True),
        sa.Column("timeout_s", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("debit_prev", ID, nullable=True),
        sa.Column("credit_prev", ID, nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_transfers_amount_positive")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id",
            name=op.f("ck_ledger_transfers_accounts_differ"),
        ),
        sa.CheckConstraint("timeout_s >= 0", name=op.f("ck_ledger_transfers_timeout_non_negative")),
        sa.CheckConstraint(
            "state IN ('posted', 'pending', 'voided', 'expired')",
            name=op.f("ck_ledger_transfers_state"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_transfers")),
        sa.UniqueConstraint("id", name=op.f("uq_ledger_transfers_id")),
    )
    op.create_index(
        "ix_ledger_transfers_pending_id",
        "ledger_transfers",
        ["pending_id"],
        postgresql_where=sa.text("pending_id IS NOT NULL"),
        sqlite_where=sa.text("pending_id IS NOT NULL"),
    )
    op.create_index(
        "ix_ledger_transfers_due",
        "ledger_transfers",
        ["expires_at"],
        postgresql_where=sa.text("state = 'pending' AND expires_at IS NOT NULL"),
        sqlite_where=sa.text("state = 'pending' AND expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("ledger_transfers")
    op.drop_table("ledger_balances")
    op.drop_table("ledger_accounts")
