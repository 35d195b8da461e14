"""Writing and proving the hash-chained audit trail (tables in ``audit_tables.py``).

Writing. Repositories and services ``record`` events into the unit of work's buffer while
the transaction runs; ``flush`` appends them to one chain as the transaction's very last
statements, and they commit or roll back with the event itself.

Why shards. A single chain needs a single head row that every writer locks until it
commits: every payment, top-up and sign-in in the whole service would then take turns on
one row (the hot row DESIGN §3 forbids for system accounts). So there are ``SHARDS``
chains, each with its own head; a transaction appends all its events to one of them,
chosen by its first member (else its first intent or transfer), so one member's events
stay in order in one chain. The head lock is taken last, after every other lock of
the transaction, and held only for a few inserts and the commit: nothing waits while
holding it, so it cannot join a deadlock. Eight chains keep the wait short under load
and cost nothing to verify; the count may change later (a new shard starts a new chain).

Proving. ``verify`` walks every chain: sequence numbers without gaps from 1, each
``prev_hash`` equal to the hash before it, each hash recomputed from the stored content,
the columns equal to what the content says, and the head equal to the last row. A row
edited, deleted or inserted out of turn breaks one of these. (Dropping the tail of a
chain together with its head row is not visible from inside the database: export the
heads ``envoi audit verify`` prints to somewhere else to anchor them.)

Secrets never enter: an event whose data names a PIN, password, token, card number or
CVC is refused (a programming error, raised at once).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from envoi.adapters.db.audit_tables import audit_heads, audit_log
from envoi.adapters.db.rows import insert_once, utc

GENESIS: Final = "0" * 64
SHARDS: Final = 8
_SECRET_WORDS: Final = ("pin", "password", "token", "secret", "card_number", "cvc")


def canonical(value: Any) -> str:
    """The one JSON text of ``value``: sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class AuditEvent:
    kind: str
    member_id: str | None
    at: datetime
    data: dict[str, Any]


@dataclass
class AuditBuffer:
    """The events of one transaction, waiting for its commit."""

    now: Callable[[], datetime]
    events: list[AuditEvent] = field(default_factory=list)

    def record(self, kind: str, member_id: str | None = None, /, **data: Any) -> None:
        for key in data:
            # "pin_locked_until" and "token_expires" are facts, not secrets.
            if any(word in key for word in _SECRET_WORDS) and key not in _ALLOWED_KEYS:
                raise ValueError(f"audit data may not carry {key!r}")
        self.events.append(AuditEvent(kind, member_id, self.now(), data))

    def take(self) -> list[AuditEvent]:
        events, self.events = self.events, []
        return events


_ALLOWED_KEYS: Final = frozenset({"pin_locked_until", "pin_failures"})


def shard_for(events: list[AuditEvent], shards: int = SHARDS) -> int:
    """The chain of a transaction: by its first member, else its first transfer or intent
    (a ledger batch of system accounts), else its kind."""
    subject = next((e.member_id for e in events if e.member_id), None) or next(
        (
            str(e.data.get(k))
            for e in events
            for k in ("intent_id", "reference", "transfer_id", "pending_id")
            if e.data.get(k)
        ),
        events[0].kind,
    )
    return zlib.crc32(subject.encode()) % shards


def flush(conn: Connection, events: list[AuditEvent], shards: int = SHARDS) -> None:
    """Append ``events`` to one chain, in order, inside the caller's transaction."""
    if not events:
        return
    shard = shard_for(events, shards)
    insert_once(conn, audit_heads, {"shard": shard, "seq": 0, "hash": GENESIS})
    seq, prev = conn.execute(
        select(audit_heads.c.seq, audit_heads.c.hash)
        .where(audit_heads.c.shard == shard)
        .with_for_update()
    ).one()
    rows = []
    for event in events:
        seq += 1
        content = canonical(
            {
                "shard": shard,
                "seq": seq,
                "at": utc(event.at).isoformat(),
                "kind": event.kind,
                "member_id": event.member_id,
                "data": event.data,
            }
        )
        digest = chain_hash(prev, content)
        rows.append(
            {
                "shard": shard,
                "seq": seq,
                "at": utc(event.at),
                "kind": event.kind,
                "member_id": event.member_id,
                "content": content,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    conn.execute(insert(audit_log), rows)
    conn.execute(update(audit_heads).where(audit_heads.c.shard == shard).values(seq=seq, hash=prev))


@dataclass
class Verdict:
    rows: int = 0
    heads: dict[int, tuple[int, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def verify(conn: Connection) -> Verdict:
    """Walk every chain and say what does not hold (nothing, when the trail is intact)."""
    verdict = Verdict()
    heads = {
        int(r.shard): (int(r.seq), str(r.hash)) for r in conn.execute(select(audit_heads)).all()
    }
    verdict.heads = heads
    last: dict[int, tuple[int, str]] = {}
    for row in _rows(conn):
        verdict.rows += 1
        shard, seq = int(row.shard), int(row.seq)
        expected_seq, prev = last.get(shard, (0, GENESIS))
        expected_seq += 1
        where = f"shard {shard} seq {seq}"
        if seq != expected_seq:
            verdict.problems.append(f"{where}: expected seq {expected_seq} (rows missing)")
        if row.prev_hash != prev:
            verdict.problems.append(f"{where}: prev_hash does not match the row before")
        if chain_hash(row.prev_hash, row.content) != row.hash:
            verdict.problems.append(f"{where}: hash does not match the content")
        verdict.problems.extend(f"{where}: {p}" for p in _content_problems(row))
        last[shard] = (seq, row.hash)
    for shard in sorted(heads.keys() | last.keys()):
        if heads.get(shard, (0, GENESIS)) != last.get(shard, (0, GENESIS)):
            verdict.problems.append(
                f"shard {shard}: head {heads.get(shard)} != last row {last.get(shard)}"
            )
    return verdict


def _rows(conn: Connection) -> Iterator[Any]:
    query = select(audit_log).order_by(audit_log.c.shard, audit_log.c.seq)
    # On the statement, not the connection: the option would stick to the connection.
    yield from conn.execute(query.execution_options(yield_per=1000))


def _content_problems(row: Any) -> list[str]:
    try:
        content = json.loads(row.content)
    except ValueError:
        return ["content is not JSON"]
    if canonical(content) != row.content:
        return ["content is not in canonical form"]
    columns = {
        "shard": int(row.shard),
        "seq": int(row.seq),
        "kind": row.kind,
        "member_id": row.member_id,
    }
    wrong = [k for k, v in columns.items() if content.get(k) != v]
    stored = row.at if row.at.tzinfo is None else utc(row.at).replace(tzinfo=None)
    try:
        hashed = datetime.fromisoformat(str(content.get("at"))).replace(tzinfo=None)
    except ValueError:
        hashed = None
    if hashed != stored:
        wrong.append("at")
    return [f"column {k} differs from the hashed content" for k in wrong]
