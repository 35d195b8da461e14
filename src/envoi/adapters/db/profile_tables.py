"""Tables beside the payment flow: organisations' legal identity and facts about this instance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Connection, DateTime, ForeignKey, String, Table, Text, select

from envoi.adapters.db.metadata import metadata
from envoi.adapters.db.rows import insert_once, utc

# A verified organisation's legal name and registry number (RNA, SIREN…), as checked
# when it was verified: the confirmation page shows it beside the badge.
organisations = Table(
    "organisations",
    metadata,
    Column("member_id", String(40), ForeignKey("members.id"), primary_key=True),
    Column("legal_name", String(200), nullable=False),
    Column("registry_id", String(40)),
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
