"""Tables every network adapter shares: ingest cursors and identity link challenges."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table, Text

from envoi.adapters.db.metadata import metadata

TS = DateTime(timezone=True)

# Where each network's reader resumes (a Matrix sync token, a Bluesky notification
# cursor); moved only after what it covers is stored.
network_cursors = Table(
    "network_cursors",
    metadata,
    Column("network", String(20), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
)

# A member proves they hold a network account by sending the bot a one-time code from it.
link_challenges = Table(
    "link_challenges",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False),
    Column("network", String(20), nullable=False),
    Column("network_user_id", String(255), nullable=False),  # the account the code is for
    Column("handle", String(255), nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),  # keyed hash, never the code
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    Index("ix_link_challenges_member", "member_id"),
)
