"""Tables of the Bluesky adapter (prefix ``bluesky_``), on envoi's shared metadata.

Migration: ``migrations/versions/0045_bluesky.py`` must stay in step with this file.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, PrimaryKeyConstraint, String, Table, Text

from envoi.adapters.db.metadata import metadata

TS = DateTime(timezone=True)

# The bot's session on its PDS (access and refresh tokens), sealed with a key derived from
# ENVOI_TOKEN_KEY, so a restart resumes it instead of logging in again
# (createSession is rate-limited per account).
bluesky_sessions = Table(
    "bluesky_sessions",
    metadata,
    Column("service_url", String(255), nullable=False),
    Column("identifier", String(255), nullable=False),
    Column("sealed", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("service_url", "identifier"),
)

# One row per direct message the bot started to send (the chat API takes no idempotency
# key): the conversation's revision before the send, then the message once it is known,
# so a retry after a crash finds the message already sent instead of sending it twice.
bluesky_dm_sends = Table(
    "bluesky_dm_sends",
    metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("convo_id", String(100), nullable=False),
    Column("after_rev", String(100), nullable=False),
    Column("message_id", String(100)),
    Column("created_at", TS, nullable=False),
    Index("ix_bluesky_dm_sends_convo", "convo_id"),
)
