"""Tables of the security side: sign-in and sign-up throttles.

A throttle row counts what one key (an account's e-mail, a client address) did within a
window; ``blocked_until`` is when that key may try again. Keys are SHA-256 digests: what
a stranger typed in the e-mail field is not kept in clear.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, Integer, String, Table

from envoi.adapters.db.metadata import metadata

TS = DateTime(timezone=True)

auth_throttle = Table(
    "auth_throttle",
    metadata,
    Column("key", String(64), primary_key=True),  # sha256 hex of "scope:value"
    Column("scope", String(10), nullable=False),
    Column("count", Integer, nullable=False),
    Column("window_start", TS, nullable=False),
    Column("blocked_until", TS),
    CheckConstraint("scope IN ('account', 'ip', 'signup')", name="scope"),
    CheckConstraint("count >= 0", name="count"),
)
