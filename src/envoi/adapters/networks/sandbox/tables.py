"""Tables of the sandbox social network (prefix ``sandbox_``), on envoi's shared metadata.

Migration: ``migrations/versions/0002_sandbox.py`` must stay in step with this file.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from envoi.adapters.db.metadata import metadata

HANDLE_MAX = 15
DISPLAY_NAME_MAX = 50
ID_LEN = 32
IDEMPOTENCY_KEY_MAX = 64

sandbox_accounts = Table(
    "sandbox_accounts",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),  # immutable, like a network user id
    Column("handle", String(HANDLE_MAX), nullable=False),  # as the owner typed it
    # Lower-cased handle: case-insensitive uniqueness the same way on both databases.
    Column("handle_key", String(HANDLE_MAX), nullable=False, unique=True),
    Column("display_name", String(DISPLAY_NAME_MAX), nullable=False),
    # SHA-256 of the bearer token; the token itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sandbox_posts = Table(
    "sandbox_posts",
    metadata,
    # Commit-independent order for the timeline and the delivery cursor.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(ID_LEN), nullable=False, unique=True),
    Column("author_id", ForeignKey("sandbox_accounts.id"), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("visibility", String(10), nullable=False),
    Column("in_reply_to", ForeignKey("sandbox_posts.id"), nullable=True, index=True),
    # Explicit addressee of a direct message (``to``); mentioned accounts are addressees too.
    Column("recipient_id", ForeignKey("sandbox_accounts.id"), nullable=True, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    # Decided once at posting time: does the bot receive this post?
    Column("for_bot", Boolean, nullable=False),
    # When the bot last received this post's current state (the post, then its deletion);
    # NULL while a delivery is owed, so a crash between commit and delivery is caught up.
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    # The author's idempotency key for this post (envoi's bot: one per outbox row); a send
    # retried with the same key gets this post back instead of a second one.
    Column("idempotency_key", String(IDEMPOTENCY_KEY_MAX), nullable=True),
    CheckConstraint("visibility IN ('public', 'direct')", name="visibility"),
    Index("uq_sandbox_posts_idempotency", "author_id", "idempotency_key", unique=True),
    Index("ix_sandbox_posts_timeline", "visibility", "seq"),
    Index(
        "ix_sandbox_posts_undelivered",
        "seq",
        postgresql_where=text("for_bot AND delivered_at IS NULL"),
        sqlite_where=text("for_bot AND delivered_at IS NULL"),
    ),
)

# Accounts a post mentions, resolved when it was posted (a later rename changes nothing).
sandbox_post_mentions = Table(
    "sandbox_post_mentions",
    metadata,
    Column("post_id", ForeignKey("sandbox_posts.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("account_id", ForeignKey("sandbox_accounts.id"), nullable=False, index=True),
    Column("handle", String(HANDLE_MAX), nullable=False),
    Column("display_name", String(DISPLAY_NAME_MAX), nullable=False),
    PrimaryKeyConstraint("post_id", "position"),
)
