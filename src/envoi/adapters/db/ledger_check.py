"""Proof that the ledger adds up: ``envoi ledger check`` and the integration tests run this.

Checks, on one consistent snapshot:
- per currency, all balances sum to zero (posted and pending);
- every account's four balance columns (summed over its shards) equal the sums of
  its transfers;
- no guarded account is beyond its limit;
- every transfer's currency is its accounts' (and its accounts exist), every resolved
  pending transfer has exactly one post or void, and every post or void names a pending
  transfer in that state;
- every account's history chains reach each of its transfers exactly once, newest first.

Two depths. ``check`` (and ``envoi ledger check --full``) reads every transfer. The
default of ``envoi ledger check`` starts from the last checkpoint, the per-account totals
and history heads a sound run saved: it reads only the transfers written since (plus the
holds still pending and every balance row), and proves the same properties of them. The
posted columns of a transfer never change once written, so the totals carry over; what a
fast run trusts is that nobody rewrote an already-verified row behind the ledger's back,
which the full run re-proves (run it nightly).

Chains are proved without grouping by (account, target): each link is joined to the
transfer it names, and per target at most one link may come from each side. With as many
links as legs per account (counted separately), that makes every leg reached exactly once.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, select, text

from envoi.adapters.db.ledger_tables import (
    ledger_checkpoint_accounts,
    ledger_checkpoint_heads,
    ledger_checkpoints,
)
from envoi.ledger.model import AccountFlags, TransferFlags

_PENDING = int(TransferFlags.PENDING)
_VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_POST = int(TransferFlags.POST_PENDING_TRANSFER)
_ALL = 2**62  # "no upper bound" for seq

_BALANCES = text(
    "SELECT a.id, a.currency, a.flags, SUM(b.debits_pending), SUM(b.debits_posted),"
    " SUM(b.credits_pending), SUM(b.credits_posted), COUNT(b.last_id)"
    " FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id"
    " GROUP BY a.id, a.currency, a.flags"
)
# Each leg of the transfers after :s: what it posts, whether it links to a previous
# transfer; the same again for the legs up to :upto (what a new checkpoint will hold).
# A post counts as posted; a pending transfer and a void post nothing.
_NEW_LEGS = text(
    "SELECT account_id, currency,"
    " SUM(CASE WHEN side = 'd' THEN amount ELSE 0 END),"
    " SUM(CASE WHEN side = 'c' THEN amount ELSE 0 END), COUNT(*), COUNT(prev),"
    " SUM(CASE WHEN side = 'd' AND seq <= :upto THEN amount ELSE 0 END),"
    " SUM(CASE WHEN side = 'c' AND seq <= :upto THEN amount ELSE 0 END),"
    " SUM(CASE WHEN seq <= :upto THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN seq <= :upto AND prev IS NOT NULL THEN 1 ELSE 0 END)"
    " FROM (SELECT 'd' AS side, debit_account_id AS account_id, currency, seq,"
    "  debit_prev AS prev, CASE WHEN (flags & :unposted) = 0 THEN amount ELSE 0 END AS amount"
    "  FROM ledger_transfers WHERE seq > :s"
    " UNION ALL SELECT 'c', credit_account_id, currency, seq, credit_prev,"
    "  CASE WHEN (flags & :unposted) = 0 THEN amount ELSE 0 END"
    "  FROM ledger_transfers WHERE seq > :s) AS legs"
    " GROUP BY account_id, currency"
)
# Holds still pending, whatever their age (an index covers state = 'pending').
_PENDING_SUMS = text(
    "SELECT account_id, SUM(dp), SUM(cp) FROM ("
    " SELECT debit_account_id AS account_id, amount AS dp, 0 AS cp FROM ledger_transfers"
    " WHERE state = 'pending' AND (flags & :pending) <> 0"
    " UNION ALL SELECT credit_account_id, 0, amount FROM ledger_transfers"
    " WHERE state = 'pending' AND (flags & :pending) <> 0"
    ") AS p GROUP BY account_id"
)
_CURRENCY = text(
    "SELECT t.id FROM ledger_transfers t"
    " JOIN ledger_accounts d ON d.id = t.debit_account_id"
    " JOIN ledger_accounts c ON c.id = t.credit_account_id"
    " WHERE t.seq > :s AND (t.currency <> d.currency OR t.currency <> c.currency)"
)
# The links (transfer after :s -> its previous one on each side; balance row -> newest
# transfer) and the bad ones: to a missing transfer, to one of another account, to a
# newer one, twice to the same leg, or to a verified transfer that was not a head.
_BAD_LINKS = text(
    "SELECT MIN(l.account), l.target FROM ("
    " SELECT debit_account_id AS account, debit_prev AS target, seq AS source"
    " FROM ledger_transfers WHERE seq > :s AND debit_prev IS NOT NULL"
    " UNION ALL SELECT credit_account_id, credit_prev, seq"
    " FROM ledger_transfers WHERE seq > :s AND credit_prev IS NOT NULL"
    " UNION ALL SELECT account_id, last_id, NULL FROM ledger_balances WHERE last_id IS NOT NULL"
    ") AS l LEFT JOIN ledger_transfers t ON t.id = l.target"
    " LEFT JOIN ledger_checkpoint_heads h ON h.account_id = l.account AND h.transfer_id = l.target"
    " GROUP BY l.target HAVING MAX(CASE WHEN t.seq IS NULL THEN 1 ELSE 0 END) = 1"
    " OR SUM(CASE WHEN l.account = t.debit_account_id THEN 1 ELSE 0 END) > 1"
    " OR SUM(CASE WHEN l.account = t.credit_account_id THEN 1 ELSE 0 END) > 1"
    " OR SUM(CASE WHEN l.account <> t.debit_account_id AND l.account <> t.credit_account_id"
    " THEN 1 ELSE 0 END) > 0"
    " OR MAX(CASE WHEN t.seq >= l.source THEN 1 ELSE 0 END) = 1"
    " OR MAX(CASE WHEN t.seq <= :s AND h.transfer_id IS NULL THEN 1 ELSE 0 END) = 1"
)
# Every pending transfer a post or void after :s names, and every resolved pending
# transfer after :s: its state and all the posts and voids that name it.
_RESOLUTIONS = text(
    "SELECT n.id, p.state, p.flags,"
    " (SELECT COUNT(*) FROM ledger_transfers r WHERE r.pending_id = n.id"
    "  AND (r.flags & :post) <> 0),"
    " (SELECT COUNT(*) FROM ledger_transfers r WHERE r.pending_id = n.id"
    "  AND (r.flags & :void) <> 0)"
    " FROM (SELECT pending_id AS id FROM ledger_transfers WHERE seq > :s"
    "  AND pending_id IS NOT NULL"
    "  UNION SELECT id FROM ledger_transfers WHERE seq > :s AND (flags & :pending) <> 0"
    "  AND state IN ('posted', 'voided')) AS n"
    " LEFT JOIN ledger_transfers p ON p.id = n.id"
)
# The newest transfer up to :upto of each history chain: where a link from a later
# transfer (or a balance row) crosses :upto.
_HEADS_AT = text(
    "SELECT l.account, l.target, t.seq FROM ("
    " SELECT debit_account_id AS account, debit_prev AS target FROM ledger_transfers"
    " WHERE seq > :upto AND debit_prev IS NOT NULL"
    " UNION ALL SELECT credit_account_id, credit_prev FROM ledger_transfers"
    " WHERE seq > :upto AND credit_prev IS NOT NULL"
    " UNION ALL SELECT account_id, last_id FROM ledger_balances WHERE last_id IS NOT NULL"
    ") AS l JOIN ledger_transfers t ON t.id = l.target WHERE t.seq <= :upto"
)

STEPS = ("balances", "transfers", "holds", "histories", "holds resolved")


@dataclass
class Totals:
    """Per account: posted debits and credits, legs, and legs linking to a previous one."""

    debits: int = 0
    credits: int = 0
    legs: int = 0
    links: int = 0

    def plus(self, other: Totals) -> Totals:
        return Totals(
            self.debits + other.debits,
            self.credits + other.credits,
            self.legs + other.legs,
            self.links + other.links,
        )


@dataclass
class Run:
    """One verification: what it found, and what a checkpoint at ``upto`` would hold."""

    since: int  # transfers after this seq were read (0: all of them)
    upto: int
    problems: list[str] = field(default_factory=list)
    transfers: int = 0  # how many transfers after ``since`` up to ``upto`` it read
    checkpoint: dict[str, Totals] = field(default_factory=dict)
    seconds: float = 0.0


def check(target: Engine | Connection) -> list[str]:
    """Every problem found reading every transfer, as a sentence; empty means sound."""
    if isinstance(target, Connection):
        return _verify(target, full=True, upto=_ALL).problems
    with _snapshot(target) as conn:
        return _verify(conn, full=True, upto=_ALL).problems


def check_and_checkpoint(
    engine: Engine, *, full: bool = False, progress: Callable[[str], None] | None = None
) -> Run:
    """The ledger check from the last checkpoint (or from the start when ``full`` or when
    there is none); when sound, saves a new checkpoint in the same snapshot."""
    upto = _settled_seq(engine)
    started = time.perf_counter()
    with _snapshot(engine) as conn:
        run = _verify(conn, full=full, upto=upto, progress=progress)
        run.seconds = time.perf_counter() - started
        if not run.problems:
            _save_checkpoint(conn, run, full=full or run.since == 0)
    return run


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction whose reads all see the same snapshot."""
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect() as plain:
        conn = plain.execution_options(**options)
        with conn.begin():
            yield conn


def _settled_seq(engine: Engine) -> int:
    """The highest seq below which no transfer can still appear. On PostgreSQL, an
    insert that took a seq may commit after a later one: a SHARE lock waits for every
    transaction writing transfers to end (and holds new ones back for that instant)."""
    with engine.connect() as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text("LOCK TABLE ledger_transfers IN SHARE MODE"))
        return int(
            conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM ledger_transfers")).scalar_one()
        )


def _verify(
    conn: Connection, *, full: bool, upto: int, progress: Callable[[str], None] | None = None
) -> Run:
    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    if conn.dialect.name == "postgresql":
        # Large hash joins and aggregates: in memory rather than in temp files.
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
    since, base = (0, {}) if full else _last_checkpoint(conn)
    run = Run(since=since, upto=upto)
    params = {
        "s": since,
        "upto": upto,
        "unposted": _PENDING | _VOID,
        "pending": _PENDING,
        "void": _VOID,
        "post": _POST,
    }
    step("balances")
    stored, currencies, heads = _balances(conn, run)
    step("transfers")
    new: dict[str, Totals] = defaultdict(Totals)
    odd_currency = False
    for account_id, currency, d, c, legs, links, d_up, c_up, legs_up, links_up in conn.execute(
        _NEW_LEGS, params
    ):
        new[account_id] = new[account_id].plus(Totals(int(d), int(c), int(legs), int(links)))
        saved = Totals(int(d_up), int(c_up), int(legs_up), int(links_up))
        run.checkpoint[account_id] = run.checkpoint.get(account_id, Totals()).plus(saved)
        run.transfers += int(legs_up)
        odd_currency |= currencies.get(account_id, currency) != currency
    run.transfers //= 2
    step("holds")
    pending = {
        account_id: (int(dp), int(cp)) for account_id, dp, cp in conn.execute(_PENDING_SUMS, params)
    }
    for account_id in sorted(stored.keys() | new.keys() | base.keys() | pending.keys()):
        total = base.get(account_id, Totals()).plus(new.get(account_id, Totals()))
        dp, cp = pending.get(account_id, (0, 0))
        want = (dp, total.debits, cp, total.credits)
        have = stored.get(account_id)
        if have is None:
            run.problems.append(f"{account_id}: has transfers but no balance rows")
        elif have != want:
            run.problems.append(
                f"{account_id}: balance (debits pending, debits posted, credits pending,"
                f" credits posted) is {have}, its transfers sum to {want}"
            )
        links = total.links + heads.get(account_id, 0)
        if links != total.legs:
            run.problems.append(
                f"{account_id}: {total.legs} transfers but {links} links in its history"
            )
    if odd_currency:
        for (transfer_id,) in conn.execute(_CURRENCY, params):
            run.problems.append(f"transfer {transfer_id}: currency differs from its accounts'")
    step("histories")
    run.problems += [
        f"{account_id}: broken history link to transfer {target}"
        for account_id, target in conn.execute(_BAD_LINKS, params)
    ]
    step("holds resolved")
    for pending_id, state, flags, posts, voids in conn.execute(_RESOLUTIONS, params):
        run.problems += _resolution_problems(pending_id, state, flags, int(posts), int(voids))
    for account_id, totals in base.items():
        run.checkpoint[account_id] = totals.plus(run.checkpoint.get(account_id, Totals()))
    return run


def _balances(
    conn: Connection, run: Run
) -> tuple[dict[str, tuple[int, ...]], dict[str, str], dict[str, int]]:
    """Sums per currency and guarded limits; returns each account's four columns, its
    currency and how many history heads (balance rows with a transfer) it has."""
    posted_sum: dict[str, int] = defaultdict(int)
    pending_sum: dict[str, int] = defaultdict(int)
    stored: dict[str, tuple[int, ...]] = {}
    currencies: dict[str, str] = {}
    heads: dict[str, int] = {}
    for account_id, currency, flags, *sums, head_count in conn.execute(_BALANCES):
        dp, dpo, cp, cpo = (int(v) for v in sums)
        stored[account_id] = (dp, dpo, cp, cpo)
        currencies[account_id] = currency
        heads[account_id] = int(head_count)
        posted_sum[currency] += cpo - dpo
        pending_sum[currency] += cp - dp
        if flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS and dp + dpo > cpo:
            run.problems.append(f"{account_id}: available {cpo - dpo - dp} is below zero")
        if flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS and cp + cpo > dpo:
            run.problems.append(f"{account_id}: credits exceed debits by {cp + cpo - dpo}")
    for currency in sorted(posted_sum):
        if posted_sum[currency]:
            run.problems.append(f"{currency}: posted balances sum to {posted_sum[currency]}, not 0")
        if pending_sum[currency]:
            run.problems.append(
                f"{currency}: pending balances sum to {pending_sum[currency]}, not 0"
            )
    return stored, currencies, heads


def _last_checkpoint(conn: Connection) -> tuple[int, dict[str, Totals]]:
    since = conn.execute(
        select(ledger_checkpoints.c.seq).order_by(ledger_checkpoints.c.seq.desc()).limit(1)
    ).scalar()
    if since is None:
        return 0, {}
    t = ledger_checkpoint_accounts
    rows = conn.execute(
        select(t.c.account_id, t.c.debits_posted, t.c.credits_posted, t.c.legs, t.c.links)
    )
    return int(since), {a: Totals(int(d), int(c), int(n), int(k)) for a, d, c, n, k in rows}


def _save_checkpoint(conn: Connection, run: Run, *, full: bool) -> None:
    """Totals and heads as of ``run.upto``, replacing the previous checkpoint's."""
    conn.execute(delete(ledger_checkpoint_accounts))
    rows = [
        {
            "account_id": account_id,
            "debits_posted": t.debits,
            "credits_posted": t.credits,
            "legs": t.legs,
            "links": t.links,
        }
        for account_id, t in run.checkpoint.items()
        if t.legs
    ]
    for start in range(0, len(rows), 5_000):
        conn.execute(insert(ledger_checkpoint_accounts), rows[start : start + 5_000])
    conn.execute(delete(ledger_checkpoint_heads))
    heads = [
        {"account_id": a, "transfer_id": t, "seq": int(s)}
        for a, t, s in conn.execute(_HEADS_AT, {"upto": run.upto})
    ]
    for start in range(0, len(heads), 5_000):
        conn.execute(insert(ledger_checkpoint_heads), heads[start : start + 5_000])
    conn.execute(delete(ledger_checkpoints).where(ledger_checkpoints.c.seq == run.upto))
    conn.execute(
        insert(ledger_checkpoints).values(
            seq=run.upto,
            created_at=datetime.now(UTC),
            full=full,
            transfers=run.transfers,
            seconds=run.seconds,
        )
    )


def _resolution_problems(
    pending_id: str, state: str | None, flags: int | None, posts: int, voids: int
) -> list[str]:
    if state is None or flags is None:
        return [f"transfer {pending_id}: a post or void names it, but it does not exist"]
    if not flags & _PENDING:
        return [f"transfer {pending_id}: posted or voided but was never pending"]
    want = {"posted": (1, 0), "voided": (0, 1)}.get(state, (0, 0))
    if (posts, voids) != want:
        return [f"pending transfer {pending_id} is {state} with {posts} posts and {voids} voids"]
    return []
