"""Ledger tables: accounts, their balance rows (one, or N shards) and every transfer.

The database enforces what the code already guarantees, so a bug cannot slip a
guarded wallet below zero, store a non-positive amount or a transfer twice.

History without per-account indexes: each balance row holds the id of its newest
transfer, and each transfer the id of the previous one on its debit and on its credit
row, so an account's history is a chain walked back from its balance row. Two indexes
on (account, seq) would cost two random B-tree page writes per transfer (a batch of
1,000 payments dirtied ~1,300 index pages); the chain costs nothing extra to write,
since the balance row is updated anyway.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    text,
)

from envoi.adapters.db.metadata import metadata

ID = String(100)
TS = DateTime(timezone=True)
# INTEGER PRIMARY KEY is SQLite's rowid: appends stay cheap and ordered.
SEQ = BigInteger().with_variant(Integer(), "sqlite")

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("code", String(32), nullable=False),
    Column("flags", Integer, nullable=False, server_default="0"),
    Column("shards", SmallInteger, nullable=False, server_default="1"),
    Column("created_at", TS, nullable=False),
    CheckConstraint("shards >= 1", name="shards_positive"),
    # SHARDED (4) spreads the balance over rows, so no per-row balance check is possible.
    CheckConstraint("(flags & 4) = 0 OR (flags & 3) = 0", name="sharded_unchecked"),
)

ledger_balances = Table(
    "ledger_balances",
    metadata,
    Column("account_id", ID, ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("shard", SmallInteger, primary_key=True, server_default="0"),
    Column("flags", Integer, nullable=False, server_default="0"),  # copy of the account's
    Column("debits_pending", BigInteger, nullable=False, server_default="0"),
    Column("debits_posted", BigInteger, nullable=False, server_default="0"),
    Column("credits_pending", BigInteger, nullable=False, server_default="0"),
    Column("credits_posted", BigInteger, nullable=False, server_default="0"),
    Column("last_id", ID),  # newest transfer on this row: head of its history chain
    # A SHARDED account's hold may be released on another shard than the one that took
    # it, so only its sum over shards is non-negative; other accounts have one row.
    CheckConstraint(
        "(flags & 4) <> 0 OR (debits_pending >= 0 AND debits_posted >= 0"
        " AND credits_pending >= 0 AND credits_posted >= 0)",
        name="non_negative",
    ),
    # Last line of defence: a guarded account never goes below zero, whatever the code does.
    CheckConstraint(
        "(flags & 1) = 0 OR debits_pending + debits_posted <= credits_posted",
        name="debits_within_credits",
    ),
    CheckConstraint(
        "(flags & 2) = 0 OR credits_pending + credits_posted <= debits_posted",
        name="credits_within_debits",
    ),
    # Room on each page for the next version of a row: balance updates stay HOT
    # (no index write) on PostgreSQL.
    postgresql_with={"fillfactor": 50},
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("seq", SEQ, Identity(), primary_key=True),  # insertion order, for history
    Column("id", ID, nullable=False, unique=True),  # the caller's idempotency key
    # No FOREIGN KEY to ledger_accounts, on purpose: the store reads and locks both
    # accounts' balance rows before it inserts, and accounts are never deleted. An FK
    # check per leg took about half the INSERT's time on PostgreSQL, and its KEY SHARE
    # lock on the account row would make every system account one hot row again (the
    # very thing SHARDED avoids). ``ledger_check`` reports any transfer without accounts.
    Column("debit_account_id", ID, nullable=False),
    Column("credit_account_id", ID, nullable=False),
    # For a post or a void: the amount it posted or released (the pending amount).
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("code", String(32), nullable=False),
    Column("flags", Integer, nullable=False),
    Column("pending_id", ID),
    Column("timeout_s", Integer, nullable=False, server_default="0"),
    Column("reference", String(200)),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS),  # pending transfers with a timeout
    # "posted" (single-phase, post), "voided" (a void), and for pending transfers
    # "pending" until posted/voided/expired.
    Column("state", String(8), nullable=False),
    # The previous transfer on the debit (credit) account's balance row: its history chain.
    Column("debit_prev", ID),
    Column("credit_prev", ID),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
    CheckConstraint("timeout_s >= 0", name="timeout_non_negative"),
    CheckConstraint("state IN ('posted', 'pending', 'voided', 'expired')", name="state"),
    Index(
        "ix_ledger_transfers_pending_id",
        "pending_id",
        postgresql_where=text("pending_id IS NOT NULL"),
        sqlite_where=text("pending_id IS NOT NULL"),
    ),
    # The holds still pending: the ledger check sums them without reading every transfer.
    Index(
        "ix_ledger_transfers_pending",
        "seq",
        postgresql_where=text("state = 'pending'"),
        sqlite_where=text("state = 'pending'"),
    ),
    Index(
        "ix_ledger_transfers_due",
        "expires_at",
        postgresql_where=text("state = 'pending' AND expires_at IS NOT NULL"),
        sqlite_where=text("state = 'pending' AND expires_at IS NOT NULL"),
    ),
)

# What the last ledger check verified, up to the transfer ``seq``: the default check then
# reads only later transfers (see ``ledger_check``). One row per check run.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("created_at", TS, nullable=False),
    Column("full", Boolean, nullable=False),
    Column("transfers", BigInteger, nullable=False),  # how many that run read
    Column("seconds", Float, nullable=False),
)

# Per account, the totals of the verified transfers (latest checkpoint only).
ledger_checkpoint_accounts = Table(
    "ledger_checkpoint_accounts",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("legs", BigInteger, nullable=False),  # transfers on the account
    Column("links", BigInteger, nullable=False),  # of them, those with a previous transfer
)

# The newest verified transfer of each history chain: the only verified transfers a
# later transfer may link to (latest checkpoint only).
ledger_checkpoint_heads = Table(
    "ledger_checkpoint_heads",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("transfer_id", ID, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
