"""Tables of the X adapter (prefix ``x_``). Migration: ``migrations/versions/0050_x.py``."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from envoi.adapters.db.metadata import metadata

TS = DateTime(timezone=True)
TOTAL = "total"  # the day's row every billable call is reserved against

# What X billed (estimated from its published unit prices), per UTC day and kind of call.
# The day's ``total`` row is where a call is reserved before it is made, in one UPDATE
# that also checks the budget: two workers cannot both spend the last dollar.
x_spend = Table(
    "x_spend",
    metadata,
    Column("day", String(10), nullable=False),  # "2026-12-02", UTC
    Column("kind", String(20), nullable=False),
    Column("calls", Integer, nullable=False),
    Column("micro_usd", BigInteger, nullable=False),
    Column("alerted_at", TS),  # on the total row: when the operator was told it ran out
    PrimaryKeyConstraint("day", "kind"),
    CheckConstraint("calls >= 0 AND micro_usd >= 0", name="non_negative"),
)

# One row per outgoing message, by envoi's idempotency key, written before the call: X
# takes no idempotency key, so a retry after a crash looks for the message it may have
# sent (the bot's own recent posts or DMs) instead of sending it twice.
x_sends = Table(
    "x_sends",
    metadata,
    Column("idempotency_key", String(80), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("target", String(40), nullable=False),  # the post replied to, or the DM's user
    Column("text_sha256", String(64), nullable=False),
    Column("started_at", TS, nullable=False),
    Column("remote_id", String(40)),  # X's id once the call answered
    CheckConstraint("kind IN ('reply', 'dm')", name="kind"),
)
