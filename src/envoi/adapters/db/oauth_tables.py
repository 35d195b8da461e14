"""OAuth 2.0 authorizations in flight (linking an account by the network's own consent page).

Migration: ``migrations/versions/0051_oauth_links.py``.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table

from envoi.adapters.db.metadata import metadata

TS = DateTime(timezone=True)

oauth_link_states = Table(
    "oauth_link_states",
    metadata,
    # Keyed hash of the ``state`` parameter: the table alone does not let anyone finish.
    Column("state_hash", String(64), primary_key=True),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False),
    Column("network", String(20), nullable=False),
    Column("code_verifier", String(128), nullable=False),  # PKCE; useless without the code
    Column("redirect_uri", String(500), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    Index("ix_oauth_link_states_member", "member_id"),
)
