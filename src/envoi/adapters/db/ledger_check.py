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
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, Engine, text

from envoi.ledger.model import AccountFlags, TransferFlags

_PENDING = int(TransferFlags.PENDING)
_VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_POST = int(TransferFlags.POST_PENDING_TRANSFER)

_BALANCES = text(
    "SELECT a.id, a.currency, a.flags, SUM(b.debits_pending), SUM(b.debits_posted),"
    " SUM(b.credits_pending), SUM(b.credits_posted)"
    " FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id"
    " GROUP BY a.id, a.currency, a.flags"
)
# What the transfers say each account's columns must be. A pending transfer counts
# while pending; a post counts as posted; a void moves nothing (it released the hold).
_FROM_TRANSFERS = text(
    "SELECT account_id, SUM(dp), SUM(dpo), SUM(cp), SUM(cpo), COUNT(*) FROM ("
    " SELECT debit_account_id AS account_id,"
    "  CASE WHEN (flags & :pending) <> 0 AND state = 'pending' THEN amount ELSE 0 END AS dp,"
    "  CASE WHEN (flags & (:pending + :void)) = 0 THEN amount ELSE 0 END AS dpo,"
    "  0 AS cp, 0 AS cpo FROM ledger_transfers"
    " UNION ALL"
    " SELECT credit_account_id, 0, 0,"
    "  CASE WHEN (flags & :pending) <> 0 AND state = 'pending' THEN amount ELSE 0 END,"
    "  CASE WHEN (flags & (:pending + :void)) = 0 THEN amount ELSE 0 END"
    " FROM ledger_transfers"
    ") AS legs GROUP BY account_id"
)
_CURRENCY = text(
    "SELECT t.id FROM ledger_transfers t"
    " JOIN ledger_accounts d ON d.id = t.debit_account_id"
    " JOIN ledger_accounts c ON c.id = t.credit_account_id"
    " WHERE t.currency <> d.currency OR t.currency <> c.currency"
)
# The links of the history chains (balance row -> newest transfer, transfer -> previous),
# counted per account, then the bad ones: to a missing transfer, to one of another
# account, to a newer one, or twice to the same.
_LINKS = (
    " FROM (SELECT debit_account_id AS account, debit_prev AS target, seq AS source"
    " FROM ledger_transfers WHERE debit_prev IS NOT NULL"
    " UNION ALL SELECT credit_account_id, credit_prev, seq"
    " FROM ledger_transfers WHERE credit_prev IS NOT NULL"
    " UNION ALL SELECT account_id, last_id, NULL"
    " FROM ledger_balances WHERE last_id IS NOT NULL) AS l"
)
_LINK_COUNTS = text("SELECT l.account, COUNT(*)" + _LINKS + " GROUP BY l.account")
_BAD_LINKS = text(
    "SELECT l.account, l.target"
    + _LINKS
    + " LEFT JOIN ledger_transfers t ON t.id = l.target GROUP BY l.account, l.target"
    " HAVING COUNT(*) > 1 OR MAX(CASE WHEN t.seq IS NULL"
    " OR (t.debit_account_id <> l.account AND t.credit_account_id <> l.account)"
    " OR t.seq >= l.source THEN 1 ELSE 0 END) = 1"
)
# Each pending transfer: its state and the posts/voids that name it.
_RESOLUTIONS = text(
    "SELECT p.id, p.state, p.flags,"
    " SUM(CASE WHEN (r.flags & :post) <> 0 THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN (r.flags & :void) <> 0 THEN 1 ELSE 0 END)"
    " FROM ledger_transfers r JOIN ledger_transfers p ON p.id = r.pending_id"
    " WHERE r.pending_id IS NOT NULL GROUP BY p.id, p.state, p.flags"
    " UNION ALL"
    " SELECT p.id, p.state, p.flags, 0, 0 FROM ledger_transfers p"
    " WHERE (p.flags & :pending) <> 0 AND p.state IN ('posted', 'voided')"
    " AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id)"
)


def check(target: Engine | Connection) -> list[str]:
    """Every problem found, as a sentence; an empty list means the ledger is sound."""
    if isinstance(target, Connection):
        return _check(target)
    options = {"isolation_level": "REPEATABLE READ"} if target.dialect.name == "postgresql" else {}
    with target.connect() as plain:  # one snapshot for all the queries
        conn = plain.execution_options(**options)
        with conn.begin():
            return _check(conn)


def _check(conn: Connection) -> list[str]:
    params = {"pending": _PENDING, "void": _VOID, "post": _POST}
    problems, stored = _balance_problems(conn)
    expected: dict[str, tuple[int, ...]] = {}
    legs: dict[str, int] = {}
    for account_id, *sums, count in conn.execute(_FROM_TRANSFERS, params):
        expected[account_id] = tuple(int(v) for v in sums)
        legs[account_id] = int(count)
    for account_id in sorted(stored.keys() | expected.keys()):
        have = stored.get(account_id)
        want = expected.get(account_id, (0, 0, 0, 0))
        if have is None:
            problems.append(f"{account_id}: has transfers but no balance rows")
        elif have != want:
            problems.append(
                f"{account_id}: balance (debits pending, debits posted, credits pending,"
                f" credits posted) is {have}, its transfers sum to {want}"
            )
    problems += _history_problems(conn, legs)
    for (transfer_id,) in conn.execute(_CURRENCY):
        problems.append(f"transfer {transfer_id}: currency differs from its accounts'")
    for pending_id, state, flags, posts, voids in conn.execute(_RESOLUTIONS, params):
        problems += _resolution_problems(pending_id, state, flags, int(posts), int(voids))
    return problems


def _balance_problems(conn: Connection) -> tuple[list[str], dict[str, tuple[int, ...]]]:
    """Sums per currency and guarded limits; also returns each account's four columns."""
    problems: list[str] = []
    posted_sum: dict[str, int] = defaultdict(int)
    pending_sum: dict[str, int] = defaultdict(int)
    stored: dict[str, tuple[int, ...]] = {}
    for account_id, currency, flags, *sums in conn.execute(_BALANCES):
        dp, dpo, cp, cpo = (int(v) for v in sums)
        stored[account_id] = (dp, dpo, cp, cpo)
        posted_sum[currency] += cpo - dpo
        pending_sum[currency] += cp - dp
        if flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS and dp + dpo > cpo:
            problems.append(f"{account_id}: available {cpo - dpo - dp} is below zero")
        if flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS and cp + cpo > dpo:
            problems.append(f"{account_id}: credits exceed debits by {cp + cpo - dpo}")
    for currency in sorted(posted_sum):
        if posted_sum[currency]:
            problems.append(f"{currency}: posted balances sum to {posted_sum[currency]}, not 0")
        if pending_sum[currency]:
            problems.append(f"{currency}: pending balances sum to {pending_sum[currency]}, not 0")
    return problems, stored


def _history_problems(conn: Connection, legs: dict[str, int]) -> list[str]:
    """Links valid, none twice, as many as transfers: each is reached exactly once."""
    problems = [
        f"{account_id}: broken history link to transfer {target}"
        for account_id, target in conn.execute(_BAD_LINKS)
    ]
    links = {account: int(n) for account, n in conn.execute(_LINK_COUNTS)}
    for account_id in sorted(links.keys() | legs.keys()):
        if links.get(account_id, 0) != legs.get(account_id, 0):
            problems.append(
                f"{account_id}: {legs.get(account_id, 0)} transfers but"
                f" {links.get(account_id, 0)} links in its history"
            )
    return problems


def _resolution_problems(
    pending_id: str, state: str, flags: int, posts: int, voids: int
) -> list[str]:
    if not flags & _PENDING:
        return [f"transfer {pending_id}: posted or voided but was never pending"]
    want = {"posted": (1, 0), "voided": (0, 1)}.get(state, (0, 0))
    if (posts, voids) != want:
        return [f"pending transfer {pending_id} is {state} with {posts} posts and {voids} voids"]
    return []
