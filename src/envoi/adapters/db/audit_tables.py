"""The audit trail: an append-only, hash-chained log of money movements and security events.

Rows live in ``audit_log``, in several independent chains (shards). Each row carries
``hash = sha256(prev_hash + content)`` where ``content`` is the canonical JSON of the event
(shard, seq, time, kind, member, data) and ``prev_hash`` the hash of the row before it in
its shard (``GENESIS`` for seq 1). ``audit_heads`` holds each shard's last seq and hash;
writers lock that row, so two transactions can never give the same place in a chain to two
rows (see ``audit.py`` for why several shards). Triggers refuse UPDATE and DELETE on
``audit_log`` (migration 0022_audit): changing the past takes dropping them, and
``envoi audit verify`` then finds the break.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Table, Text

from envoi.adapters.db.metadata import metadata

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("member_id", String(40), index=True),
    Column("content", Text, nullable=False),  # canonical JSON: exactly what is hashed
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
