"""``SqlLedger``: the ledger inside the caller's transaction, on SQLite and PostgreSQL.

One ``create_transfers`` call, whatever its size, costs a fixed number of statements:

1. lock the balance rows of every account the batch touches, in one statement
   ordered by account id (``SELECT … ORDER BY … FOR UPDATE``): every writer takes its
   locks in the same order, so writers queue instead of deadlocking. SQLite needs no
   row locks: ``BEGIN IMMEDIATE`` (see engine.py) already serialises writers;
2. read the batch's ids and the pending transfers it names (after the locks, so a
   concurrent post or void of the same pending transfer is seen);
3. decide every outcome in memory (``envoi.ledger.rules``);
4. write in bulk: the new transfers, the balances (deltas, and the head of each row's
   history chain), the resolved pending transfers: one statement on PostgreSQL (arrays
   unnest()ed into data-modifying CTEs), an executemany each on SQLite.

A SHARDED account (fees, clearing, escrow) has N balance rows; a batch adds its
changes to one of them, picked from its first transfer id, so concurrent payments
mostly lock different rows. Its balance is the sum of its rows.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from envoi.adapters.db.audit import AuditBuffer
from envoi.adapters.db.ledger_tables import ledger_accounts, ledger_balances, ledger_transfers
from envoi.faults import crash_point
from envoi.ledger.model import (
    Account,
    AccountBalance,
    AccountFlags,
    CreateAccountResult,
    PostedTransfer,
    Transfer,
    TransferFlags,
    TransferOutcome,
)
from envoi.ledger.rules import (
    PENDING,
    Balance,
    Decision,
    Rules,
    StoredTransfer,
    expire,
    valid_account,
)
from envoi.metrics import LEDGER_BATCH, count_retry

T = TypeVar("T")
DEFAULT_SHARDS = 16
# Flag values to enum members without the enum's per-call cost.
_ACCOUNT_FLAGS = {v: AccountFlags(v) for v in range(int(max(AccountFlags)) * 2)}
_TRANSFER_FLAGS = {v: TransferFlags(v) for v in range(int(max(TransferFlags)) * 2)}
_BALANCE_FIELDS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
# Raw SQL for the hot path (one statement per step, arrays on PostgreSQL, executemany
# on SQLite). Only constants are interpolated.
_LOCK_PG = (
    "SELECT a.id, a.currency, a.code, a.flags, b.shard, b.debits_pending, b.debits_posted,"
    " b.credits_pending, b.credits_posted, b.last_id"
    " FROM ledger_accounts a JOIN ledger_balances b"
    " ON b.account_id = a.id AND b.shard = %(salt)s %% a.shards"
    " WHERE a.id = ANY(%(ids)s) ORDER BY a.id FOR NO KEY UPDATE OF b"
)
_LOCK_SQLITE = (
    "SELECT a.id, a.currency, a.code, a.flags, b.shard, b.debits_pending, b.debits_posted,"
    " b.credits_pending, b.credits_posted, b.last_id"
    " FROM ledger_accounts a JOIN ledger_balances b"
    " ON b.account_id = a.id AND b.shard = ? % a.shards"
    " WHERE a.id IN (SELECT value FROM json_each(?))"
)
_LOAD_PG = (
    "SELECT id, debit_account_id, credit_account_id, amount, currency, code, flags,"
    " pending_id, timeout_s, reference, expires_at, state FROM ledger_transfers"
    " WHERE id = ANY(%(ids)s)"
)
_LOAD_SQLITE = (
    "SELECT id, debit_account_id, credit_account_id, amount, currency, code, flags,"
    " pending_id, timeout_s, reference, expires_at, state FROM ledger_transfers"
    " WHERE id IN (SELECT value FROM json_each(?))"
)
# seq (history order) comes from the identity, in the batch's order (WITH ORDINALITY).
_INSERT_PG = (
    "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount,"
    " currency, code, flags, pending_id, timeout_s, reference, expires_at, state,"
    " debit_prev, credit_prev, created_at)"
    " SELECT u.id, u.d, u.c, u.amount, u.currency, u.code, u.flags, u.pending_id,"
    " u.timeout_s, u.reference, u.expires_at, u.state, u.dprev, u.cprev, %s::timestamptz"
    " FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[], %s::varchar[],"
    " %s::varchar[], %s::int[], %s::varchar[], %s::int[], %s::varchar[], %s::timestamptz[],"
    " %s::varchar[], %s::varchar[], %s::varchar[]) WITH ORDINALITY AS u(id, d, c, amount,"
    " currency, code, flags, pending_id, timeout_s, reference, expires_at, state, dprev,"
    " cprev, n) ORDER BY u.n"
)
_INSERT_SQLITE = (
    "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount,"
    " currency, code, flags, pending_id, timeout_s, reference, expires_at, state,"
    " debit_prev, credit_prev, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_RESOLVE_PG = (
    "UPDATE ledger_transfers t SET state = v.state"
    " FROM unnest(%s::varchar[], %s::varchar[]) AS v(state, id) WHERE t.id = v.id"
)
_RESOLVE_SQLITE = "UPDATE ledger_transfers SET state = ? WHERE id = ?"
# Deltas, not absolute values: the row is locked anyway, and a delta cannot undo another's.
_MOVE_PG = (
    "UPDATE ledger_balances b SET debits_pending = b.debits_pending + v.dp,"
    " debits_posted = b.debits_posted + v.dpo, credits_pending = b.credits_pending + v.cp,"
    " credits_posted = b.credits_posted + v.cpo, last_id = COALESCE(v.head, b.last_id)"
    " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::varchar[],"
    " %s::varchar[], %s::smallint[]) AS v(dp, dpo, cp, cpo, head, account_id, shard)"
    " WHERE b.account_id = v.account_id AND b.shard = v.shard"
)
_MOVE_SQLITE = (
    "UPDATE ledger_balances SET debits_pending = debits_pending + ?,"
    " debits_posted = debits_posted + ?, credits_pending = credits_pending + ?,"
    " credits_posted = credits_posted + ?, last_id = COALESCE(?, last_id)"
    " WHERE account_id = ? AND shard = ?"
)
# An account's history: walk each of its balance rows' chains back from the newest.
_HISTORY = text(
    "WITH RECURSIVE chain(id, depth) AS ("
    " SELECT last_id, 1 FROM ledger_balances WHERE account_id = :account"
    " AND last_id IS NOT NULL"
    " UNION ALL"
    " SELECT CASE WHEN t.debit_account_id = :account THEN t.debit_prev ELSE t.credit_prev END,"
    " c.depth + 1 FROM chain c JOIN ledger_transfers t ON t.id = c.id"
    " WHERE c.depth < :limit)"
    " SELECT t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.code,"
    " t.flags, t.pending_id, t.reference, t.created_at, t.state"
    " FROM chain c JOIN ledger_transfers t ON t.id = c.id ORDER BY t.seq DESC LIMIT :limit"
)


@dataclass(slots=True)
class _Locked:
    """The balance rows a batch locked: one per account (a SHARDED account: one shard)."""

    accounts: dict[str, Account]
    balances: dict[str, Balance]
    shard_of: dict[str, int]
    heads: dict[str, str | None]  # the row's newest transfer (head of its history chain)


class SqlLedger:
    """Implements ``LedgerStore`` with the connection's open transaction (never commits)."""

    def __init__(
        self,
        conn: Connection,
        now: Callable[[], datetime],
        *,
        shards: int = DEFAULT_SHARDS,
        audit: AuditBuffer | None = None,
    ) -> None:
        self.conn = conn
        self.audit = audit  # every transfer written and every pending one resolved
        self.now = now
        self.shards = shards  # balance rows of a new SHARDED account
        self._pg = conn.dialect.name == "postgresql"

    # -- accounts -------------------------------------------------------------------

    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        results: list[CreateAccountResult] = []
        now = self.now()
        insert = pg_insert if self._pg else sqlite_insert
        for account in accounts:
            if not valid_account(account):
                results.append(CreateAccountResult.INVALID)
                continue
            shards = self.shards if account.flags & AccountFlags.SHARDED else 1
            # ON CONFLICT: a concurrent creation of the same account is not an error.
            created = self.conn.execute(
                insert(ledger_accounts)
                .values(
                    id=account.id,
                    currency=account.currency,
                    code=account.code,
                    flags=int(account.flags),
                    shards=shards,
                    created_at=_utc(now),
                )
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(ledger_accounts.c.id)
            ).first()
            if created is not None:
                self.conn.execute(
                    ledger_balances.insert(),
                    [
                        {"account_id": account.id, "shard": s, "flags": int(account.flags)}
                        for s in range(shards)
                    ],
                )
                results.append(CreateAccountResult.OK)
                continue
            row = self.conn.execute(
                select(ledger_accounts).where(ledger_accounts.c.id == account.id)
            ).one()
            same = (row.currency, row.code, row.flags) == (
                account.currency,
                account.code,
                int(account.flags),
            )
            results.append(
                CreateAccountResult.EXISTS
                if same
                else CreateAccountResult.EXISTS_WITH_DIFFERENT_FIELDS
            )
        return results

    def balance(self, account_id: str) -> AccountBalance:
        """The account's balance (the sum of its shards). KeyError if there is no such account."""
        b = ledger_balances.c
        row = self.conn.execute(
            select(
                ledger_accounts.c.currency,
                *(func.sum(getattr(b, name)).label(name) for name in _BALANCE_FIELDS),
            )
            .join(ledger_balances, b.account_id == ledger_accounts.c.id)
            .where(ledger_accounts.c.id == account_id)
            .group_by(ledger_accounts.c.currency)
        ).first()
        if row is None:
            raise KeyError(account_id)
        return AccountBalance(
            account_id, row.currency, *(int(row._mapping[n]) for n in _BALANCE_FIELDS)
        )

    def transfers_of(self, account_id: str, *, limit: int = 100) -> list[PostedTransfer]:
        """The account's transfers, newest first (posts and voids included)."""
        rows = self.conn.execute(_HISTORY, {"account": account_id, "limit": limit}).all()
        return [_posted(r) for r in rows]

    # -- transfers ------------------------------------------------------------------

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[TransferOutcome]:
        if not transfers:
            return []
        LEDGER_BATCH.observe(len(transfers))
        now = _aware(self.now())
        pending_ids = {t.pending_id for t in transfers if t.pending_id}
        account_ids = {a for t in transfers for a in (t.debit_account_id, t.credit_account_id)}
        if pending_ids:  # a post or void also moves its pending transfer's accounts
            for p in self._load(pending_ids).values():
                account_ids.update((p.debit_account_id, p.credit_account_id))
        account_ids.discard("")
        locked = self._lock(account_ids, _salt(transfers[0].id))
        known = self._load({t.id for t in transfers} | pending_ids)
        decision = Rules(locked.accounts, locked.balances, known, now).decide(transfers)
        self._write(decision, locked, now)
        crash_point("ledger.written")  # the batch written, its transaction not committed
        return decision.outcomes

    def expire_pending(self, now: datetime, *, limit: int = 1000) -> list[str]:
        """Release the holds of pending transfers past their timeout; returns their ids."""
        t = ledger_transfers.c
        due = self.conn.execute(
            select(t.id, t.debit_account_id, t.credit_account_id)
            .where(t.state == PENDING, t.expires_at.is_not(None), t.expires_at <= _utc(now))
            .order_by(t.expires_at, t.seq)
            .limit(limit)
        ).all()
        if not due:
            return []
        accounts = {a for r in due for a in (r.debit_account_id, r.credit_account_id)}
        locked = self._lock(accounts, _salt(due[0].id))
        # Re-read under the locks: a concurrent post, void or expiry may have won.
        known = self._load({r.id for r in due})
        in_order = [known[r.id] for r in due if r.id in known]
        expired, deltas = expire(in_order, locked.balances, _aware(now))
        self._write(Decision([], [], dict.fromkeys(expired, "expired"), deltas), locked, now)
        return expired

    # -- SQL ------------------------------------------------------------------------

    def _lock(self, account_ids: Collection[str], salt: int) -> _Locked:
        """Lock (PostgreSQL) and read one balance row per account, in account id order."""
        locked = _Locked({}, {}, {}, {})
        if not account_ids:
            return locked
        ids = sorted(account_ids)
        if self._pg:
            rows = self.conn.exec_driver_sql(_LOCK_PG, {"salt": salt, "ids": ids}).all()
        else:
            rows = self.conn.exec_driver_sql(_LOCK_SQLITE, (salt, _json_list(ids))).all()
        for r in rows:
            locked.accounts[r[0]] = _account(r[0], r[1], r[2], r[3])
            locked.shard_of[r[0]] = r[4]
            locked.balances[r[0]] = Balance(r[5], r[6], r[7], r[8])
            locked.heads[r[0]] = r[9]
        return locked

    def _load(self, ids: Collection[str]) -> dict[str, StoredTransfer]:
        if not ids:
            return {}
        if self._pg:
            rows = self.conn.exec_driver_sql(_LOAD_PG, {"ids": list(ids)}).all()
        else:
            rows = self.conn.exec_driver_sql(_LOAD_SQLITE, (_json_list(ids),)).all()
        return {r[0]: _stored(r) for r in rows}

    def _write(self, decision: Decision, locked: _Locked, now: datetime) -> None:
        if self.audit is not None:
            for t in decision.created:
                self.audit.record(
                    "ledger.transfer",
                    None,
                    transfer_id=t.id,
                    debit_account_id=t.debit_account_id,
                    credit_account_id=t.credit_account_id,
                    amount=t.amount,
                    currency=t.currency,
                    code=t.code,
                    pending_id=t.pending_id,
                    state=t.state,
                    reference=t.reference,
                )
            for pending_id, state in decision.resolved.items():
                self.audit.record("ledger.resolved", None, pending_id=pending_id, state=state)
        heads: dict[str, str] = {}  # account -> its newest transfer, if this batch made one
        rows = self._rows(decision.created, locked.heads, heads, now)
        states = [(state, pid) for pid, state in decision.resolved.items()]
        deltas, zero = decision.deltas, Balance()
        moves = [
            (d.debits_pending, d.debits_posted, d.credits_pending, d.credits_posted,
             heads.get(a), a, locked.shard_of[a])
            for a in sorted(deltas.keys() | heads.keys())
            for d in (deltas.get(a, zero),)
        ]  # fmt: skip
        if not self._pg:
            writes: list[tuple[str, Sequence[tuple[Any, ...]]]] = [
                (_INSERT_SQLITE, rows),
                (_RESOLVE_SQLITE, states),
                (_MOVE_SQLITE, moves),
            ]
            for statement, many in writes:
                if many:
                    self.conn.exec_driver_sql(statement, many)  # executemany
                    crash_point("ledger.mid_batch")
            return
        # PostgreSQL: one round trip for all the writes (data-modifying CTEs). The resolved
        # pending transfers are older rows, never the ones this statement inserts.
        steps: list[tuple[str, tuple[Any, ...]]] = [
            (statement, params)
            for statement, params in (
                (_INSERT_PG, (self._ts(now), *_columns(rows)) if rows else ()),
                (_RESOLVE_PG, _columns(states) if states else ()),
                (_MOVE_PG, _columns(moves) if moves else ()),
            )
            if params
        ]
        if steps:
            *before, (last, _) = steps
            ctes = ", ".join(f"w{i} AS ({statement})" for i, (statement, _) in enumerate(before))
            combined = f"WITH {ctes} {last}" if before else last
            self.conn.exec_driver_sql(combined, tuple(p for _, ps in steps for p in ps))

    def _rows(
        self,
        created: Sequence[StoredTransfer],
        previous: dict[str, str | None],
        heads: dict[str, str],
        now: datetime,
    ) -> list[tuple[Any, ...]]:
        """Rows of the new transfers, each linked to the previous one of its two accounts;
        on SQLite with the creation time last, as its INSERT wants."""
        rows: list[tuple[Any, ...]] = []
        ts = self._ts
        at = None if self._pg else ts(now)
        for t in created:
            d, c = t.debit_account_id, t.credit_account_id
            debit_prev = heads.get(d) or previous.get(d)
            credit_prev = heads.get(c) or previous.get(c)
            heads[d] = heads[c] = t.id
            row = (
                t.id, d, c, t.amount, t.currency, t.code, int(t.flags), t.pending_id,
                t.timeout_s, t.reference, t.expires_at and ts(t.expires_at), t.state,
                debit_prev, credit_prev,
            )  # fmt: skip
            rows.append(row if self._pg else (*row, at))
        return rows

    def _ts(self, value: datetime | None) -> Any:
        """A timestamp as the driver stores it: aware on PostgreSQL, SQLAlchemy's
        naive-UTC text on SQLite (so Core queries and raw SQL compare alike)."""
        if value is None:
            return None
        value = _utc(value)
        if self._pg:
            return value
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@lru_cache(maxsize=1 << 16)
def _account(account_id: str, currency: str, code: str, flags: int) -> Account:
    """Accounts never change: share one (frozen, slow to build) object per row value."""
    return Account(account_id, currency, code, _ACCOUNT_FLAGS[flags])


def _stored(r: Any) -> StoredTransfer:
    expires_at = _aware(r[10]) if r[10] is not None else None
    return StoredTransfer(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        _TRANSFER_FLAGS[r[6]],
        r[7],
        r[8],
        r[9],
        expires_at,
        r[11],
    )


def _posted(r: Any) -> PostedTransfer:
    return PostedTransfer(
        id=r[0],
        debit_account_id=r[1],
        credit_account_id=r[2],
        amount=r[3],
        currency=r[4],
        code=r[5],
        flags=_TRANSFER_FLAGS[r[6]],
        pending_id=r[7],
        reference=r[8],
        created_at=_aware(r[9]),
        state=r[10],
    )


def _columns(rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    """Rows to one list per column: PostgreSQL unnest()s them back into rows."""
    return tuple(list(c) for c in zip(*rows, strict=True))


def _salt(transfer_id: str) -> int:
    """Which shard of a SHARDED account a batch writes: stable for a retry of the batch."""
    return zlib.crc32(transfer_id.encode())


def _aware(value: datetime | str) -> datetime:
    """SQLite gives back naive UTC (text or datetime); everything else is aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    """For SQLAlchemy Core binds: its SQLite DateTime drops the zone, so convert first."""
    return _aware(value).astimezone(UTC)


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values))


# -- standalone callers ---------------------------------------------------------------

# Worth another try from the start: serialization failure, deadlock detected, and a
# concurrent insert of the same new transfer id (the retry then sees EXISTS).
_RETRYABLE_SQLSTATES = {"40001", "40P01", "23505"}


def transact(
    engine: Engine, work: Callable[[Connection], T], *, attempts: int = 8, max_sleep: float = 0.2
) -> T:
    """Run ``work`` in its own transaction, retrying on transient concurrency errors.

    For callers without a unit of work (scripts, the benchmark, tests). ``work`` must be
    safe to run again: ledger calls are, since transfer ids make them idempotent.
    """
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if attempt == attempts or not _is_transient(exc):
                raise
            count_retry("ledger")
            time.sleep(random.uniform(0, min(max_sleep, 0.005 * 2**attempt)))  # noqa: S311
    raise AssertionError("unreachable")


def _is_transient(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return sqlstate != "23505" or "ledger_transfers" in str(exc.orig)
    return "database is locked" in str(exc.orig)  # SQLite, past busy_timeout
