"""Tables of what card processors tell us after a top-up: events, refunds, disputes.

Invariants in the database as well: an event is applied once (primary key), a refund or
a dispute never has a non-positive amount, a dispute's frozen part and shortfall add up
to the disputed amount.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    String,
    Table,
)

from envoi.adapters.db.metadata import metadata

ID = String(40)
TS = DateTime(timezone=True)

psp_events = Table(
    "psp_events",
    metadata,
    Column("processor", String(20), primary_key=True),
    Column("event_id", String(100), primary_key=True),  # the processor's id: applied once
    Column("kind", String(40), nullable=False),
    Column("received_at", TS, nullable=False),
)

card_refunds = Table(
    "card_refunds",
    metadata,
    Column("id", ID, primary_key=True),  # ours: the processor's idempotency key
    Column("topup_id", ID, ForeignKey("topups.id"), nullable=False, index=True),
    Column("member_id", ID, ForeignKey("members.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # "operator": asked in envoi; "processor": made at the processor (its dashboard) and
    # learnt from a webhook.
    Column("origin", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("processor_refund_ref", String(100), unique=True),
    Column("created_at", TS, nullable=False),
    Column("completed_at", TS),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("origin IN ('operator', 'processor')", name="origin"),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
)

card_disputes = Table(
    "card_disputes",
    metadata,
    Column("dispute_ref", String(100), primary_key=True),  # the processor's id
    Column("topup_id", ID, ForeignKey("topups.id"), nullable=False, index=True),
    Column("member_id", ID, ForeignKey("members.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("frozen_minor", BigInteger, nullable=False),  # held in the wallet
    Column("shortfall_minor", BigInteger, nullable=False),  # owed: the receivable account
    Column("status", String(10), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("closed_at", TS),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("frozen_minor >= 0 AND shortfall_minor >= 0", name="parts_non_negative"),
    CheckConstraint("frozen_minor + shortfall_minor = amount_minor", name="parts_add_up"),
    CheckConstraint("status IN ('open', 'won', 'lost')", name="status"),
)
