"""Small conversions shared by the repositories: timestamps and insert-once statements."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: every stored time is UTC, so say so."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def insert_once(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either database; True if the row is new.

    Under concurrency the second inserter waits for the first to commit and then
    inserts nothing, so "stored once" holds without catching IntegrityError.
    """
    if conn.dialect.name == "postgresql":
        stmt: Any = postgresql.insert(table).values(values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(table).values(values).on_conflict_do_nothing()
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    first_key = next(iter(table.primary_key.columns))
    return conn.execute(stmt.returning(first_key)).first() is not None
