"""Tables for collecting money: donations' choices, tax receipts and their counters.

A tax receipt is a document: once issued its content never changes (triggers refuse an
UPDATE of any column but ``cancelled_at``); a correction is a new receipt that names
the one it cancels. Numbers run without gaps per organisation and year: the counter
row is incremented in the transaction that issues the receipt (lock order, level 5b in
``services/unit_of_work.py``), so a rolled-back donation gives its number back.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from envoi.adapters.db.metadata import metadata

ID = String(40)
TS = DateTime(timezone=True)

# What the donor chose for one donation: a message for the organisation, and whether
# their name may appear on its public page (anonymous unless they say otherwise).
donations = Table(
    "donations",
    metadata,
    Column("intent_id", ID, ForeignKey("payment_intents.id"), primary_key=True),
    Column("organisation_id", ID, ForeignKey("members.id"), nullable=False),
    Column("message", String(280)),
    Column("anonymous", Boolean, nullable=False, server_default="1"),
    Index("ix_donations_organisation_id", "organisation_id"),
)

receipt_counters = Table(
    "receipt_counters",
    metadata,
    Column("organisation_id", ID, ForeignKey("members.id"), primary_key=True),
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_number", BigInteger, nullable=False),
    CheckConstraint("last_number >= 0", name="last_number"),
)

# Every column but ``cancelled_at`` is the document as issued (CERFA 11580 fields).
RECEIPT_CONTENT = (
    "id",
    "organisation_id",
    "year",
    "number",
    "intent_id",
    "donor_member_id",
    "donor_name",
    "donor_address",
    "org_legal_name",
    "org_address",
    "org_registry_id",
    "org_purpose",
    "amount_minor",
    "currency",
    "donated_at",
    "issued_at",
    "form",
    "nature",
    "payment_mode",
    "legal_article",
    "cancels_id",
)

tax_receipts = Table(
    "tax_receipts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("organisation_id", ID, ForeignKey("members.id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("intent_id", ID, ForeignKey("payment_intents.id"), nullable=False),
    Column("donor_member_id", ID, ForeignKey("members.id"), nullable=False),
    Column("donor_name", String(200), nullable=False),
    Column("donor_address", Text, nullable=False),
    Column("org_legal_name", String(200), nullable=False),
    Column("org_address", Text, nullable=False),
    Column("org_registry_id", String(40), nullable=False),
    Column("org_purpose", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("donated_at", TS, nullable=False),
    Column("issued_at", TS, nullable=False),
    Column("form", String(60), nullable=False),
    Column("nature", String(60), nullable=False),
    Column("payment_mode", String(60), nullable=False),
    Column("legal_article", String(60), nullable=False),
    Column("cancels_id", ID, ForeignKey("tax_receipts.id"), unique=True),
    Column("cancelled_at", TS),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("number > 0", name="number_positive"),
    UniqueConstraint("organisation_id", "year", "number", name="uq_tax_receipts_number"),
    Index("ix_tax_receipts_donor_member_id", "donor_member_id"),
    Index("ix_tax_receipts_intent_id", "intent_id"),
)

# A donor's name and postal address as they want them on tax receipts.
donor_details = Table(
    "donor_details",
    metadata,
    Column("member_id", ID, ForeignKey("members.id"), primary_key=True),
    Column("full_name", String(200), nullable=False),
    Column("address", Text, nullable=False),
)

# Money leaving envoi for an IBAN: a pending transfer from its source account (a pot, an
# organisation's wallet) to payout clearing, posted when the bank executed the batch,
# voided when the bank's status report (pain.002) rejects the line.
payouts = Table(
    "payouts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("source_account", String(100), nullable=False),  # ledger account debited
    Column("requested_by", ID, ForeignKey("members.id"), nullable=False),
    Column("pot_id", ID, ForeignKey("pots.id")),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("creditor_name", String(70), nullable=False),
    Column("iban", String(34), nullable=False),
    Column("bic", String(11)),
    Column("remittance", String(140), nullable=False),
    Column("state", String(10), nullable=False),
    Column("batch_id", ID, ForeignKey("payout_batches.id")),
    Column("reason", String(10)),  # the bank's rejection reason code
    Column("created_at", TS, nullable=False),
    Column("finished_at", TS),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("state IN ('pending', 'batched', 'executed', 'rejected')", name="state"),
    Index("ix_payouts_state", "state"),
    Index("ix_payouts_batch_id", "batch_id"),
)

payout_batches = Table(
    "payout_batches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("created_at", TS, nullable=False),
    Column("created_by", String(100), nullable=False),  # the operator
    Column("count", Integer, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("xml", Text, nullable=False),  # the pain.001.001.09 file, as validated
    Column("executed_at", TS),
    CheckConstraint("count > 0", name="count_positive"),
)
