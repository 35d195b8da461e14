"""Tables beside the payment flow: organisations' legal identity and facts about this instance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    String,
    Table,
    Text,
    select,
)

from envoi.adapters.db.metadata import metadata
from envoi.adapters.db.rows import insert_once, utc

# An organisation's legal identity (the member row holds its name, wallet and the
# ``verified`` badge): registry number checked by its check digits (SIREN, SIRET) or form
# (RNA), its address for tax receipts, the IBAN payouts go to (checked by schwifty).
organisations = Table(
    "organisations",
    metadata,
    Column("member_id", String(40), ForeignKey("members.id"), primary_key=True),
    Column("legal_name", String(200), nullable=False),
    Column("registry_id", String(40)),
    Column("registry_kind", String(5)),
    Column("address", Text, nullable=False, server_default=""),
    Column("purpose", Text, nullable=False, server_default=""),
    Column("tax_receipts", Boolean, nullable=False, server_default="0"),
    Column("iban", String(34)),
    Column("bic", String(11)),
    Column("created_by", String(40), ForeignKey("members.id")),
    Column("verified_at", DateTime(timezone=True)),
    CheckConstraint(
        "registry_kind IS NULL OR registry_kind IN ('siren', 'siret', 'rna')",
        name="registry_kind",
    ),
)

# What one-shot commands need to know about the running server (its public URL).
instance_facts = Table(
    "instance_facts",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def record_fact(conn: Connection, name: str, value: str, now: datetime) -> None:
    """Set ``name`` to ``value`` (insert, or overwrite the previous value)."""
    row = {"name": name, "value": value, "updated_at": utc(now)}
    if not insert_once(conn, instance_facts, row):
        conn.execute(
            instance_facts.update()
            .where(instance_facts.c.name == name)
            .values(value=value, updated_at=utc(now))
        )


def read_fact(conn: Connection, name: str) -> str | None:
    value = conn.execute(
        select(instance_facts.c.value).where(instance_facts.c.name == name)
    ).scalar_one_or_none()
    return str(value) if value is not None else None
