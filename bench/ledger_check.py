"""The ledger check at scale: fill a throwaway PostgreSQL database with N valid transfers
(10 million by default) between A wallets, then time ``envoi ledger check`` against a
baseline run in the same process on the same table: one plain sequential scan
(``SELECT count(*), sum(amount) FROM ledger_transfers``); then 10,000 payments through
the ledger and the default check, which starts from the checkpoint the full run saved.
The ratio is what to read on a shared, noisy machine; the seconds are printed too (the
issue's target: under 60 s).

    .venv/bin/python bench/ledger_check.py [--pg URL] [--transfers N] [--accounts A]
        [--json FILE]

The fill is set-based SQL (generate_series and window functions), so the history chains,
balance rows and heads are exactly what the ledger store would have written; one
tampered row at the end proves that the check still sees a fault at that size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger import PG_DEFAULT, pg_database

from envoi.adapters.db import ledger_check
from envoi.adapters.db.engine import make_engine
from envoi.adapters.db.ledger_store import SqlLedger
from envoi.adapters.db.migrate import upgrade
from envoi.ledger.model import AccountFlags, Transfer

FUNDS = 10**12  # per wallet: no payment can take a wallet below zero
BANK = "system:card_clearing:EUR"
NEW = 10_000  # payments after the full run's checkpoint, for the default check


def now() -> datetime:
    return datetime.now(UTC)


def wallet_sql(expr: str) -> str:
    return f"'wallet:b' || lpad(({expr})::text, 7, '0')"


def fill(conn: Connection, transfers: int, accounts: int) -> None:
    """Accounts, one funding transfer each, then ``transfers`` payments between them."""
    guarded = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    conn.execute(
        text(
            "INSERT INTO ledger_accounts (id, currency, code, flags, shards, created_at)"
            " VALUES (:bank, 'EUR', 'card_clearing', 0, 1, now())"
        ),
        {"bank": BANK},
    )
    conn.execute(
        text(
            "INSERT INTO ledger_accounts (id, currency, code, flags, shards, created_at)"
            f" SELECT {wallet_sql('g')}, 'EUR', 'wallet', :flags, 1, now()"
            " FROM generate_series(0, :a - 1) g"
        ),
        {"a": accounts, "flags": guarded},
    )
    # Transfers 1..A fund the wallets; then payment g goes from wallet d to a different c.
    conn.execute(
        text(
            "CREATE TEMP TABLE gen AS"
            " SELECT g AS seq, 'f' || g AS id, :bank AS debit,"
            f" {wallet_sql('g - 1')} AS credit, CAST(:funds AS bigint) AS amount"
            " FROM generate_series(CAST(1 AS bigint), :a) g"
            " UNION ALL"
            " SELECT g, 'p' || g,"
            f" {wallet_sql('(g * 7919) % :a')},"
            f" {wallet_sql('((g * 7919) % :a + 1 + (g * 104729) % (:a - 1)) % :a')},"
            " 1 + (g * 31) % 5000"
            " FROM generate_series(CAST(:a AS bigint) + 1, :a + :n) g"
        ),
        {"bank": BANK, "a": accounts, "n": transfers, "funds": FUNDS},
    )
    # Each leg's previous transfer on its account: the history chains.
    conn.execute(
        text(
            "CREATE TEMP TABLE legs AS"
            " SELECT seq, side, account, id,"
            " lag(id) OVER (PARTITION BY account ORDER BY seq) AS prev,"
            " lead(id) OVER (PARTITION BY account ORDER BY seq) IS NULL AS head"
            " FROM (SELECT seq, 'd' AS side, debit AS account, id FROM gen"
            "  UNION ALL SELECT seq, 'c', credit, id FROM gen) l"
        )
    )
    conn.execute(text("CREATE INDEX ON legs (seq, side)"))
    conn.execute(
        text(
            "INSERT INTO ledger_transfers (seq, id, debit_account_id, credit_account_id,"
            " amount, currency, code, flags, created_at, state, debit_prev, credit_prev)"
            " SELECT g.seq, g.id, g.debit, g.credit, g.amount, 'EUR', 'payment', 0, now(),"
            " 'posted', d.prev, c.prev FROM gen g"
            " JOIN legs d ON d.seq = g.seq AND d.side = 'd'"
            " JOIN legs c ON c.seq = g.seq AND c.side = 'c'"
            " ORDER BY g.seq"
        )
    )
    conn.execute(
        text(
            "INSERT INTO ledger_balances (account_id, shard, flags, debits_pending,"
            " debits_posted, credits_pending, credits_posted, last_id)"
            " SELECT a.id, 0, a.flags, 0,"
            " COALESCE(SUM(g.amount) FILTER (WHERE l.side = 'd'), 0), 0,"
            " COALESCE(SUM(g.amount) FILTER (WHERE l.side = 'c'), 0),"
            " MAX(l.id) FILTER (WHERE l.head)"
            " FROM ledger_accounts a JOIN legs l ON l.account = a.id"
            " JOIN gen g ON g.seq = l.seq GROUP BY a.id, a.flags"
        )
    )
    # The seqs were given explicitly: the identity must carry on after them.
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('ledger_transfers', 'seq'),"
            " (SELECT MAX(seq) FROM ledger_transfers))"
        )
    )
    conn.execute(text("DROP TABLE gen"))
    conn.execute(text("DROP TABLE legs"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server URL (any database)")
    parser.add_argument("--transfers", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"ledger check bench: {args.transfers:,} transfers between {args.accounts:,} wallets"
        f" on PostgreSQL, load average {load:.1f}"
    )
    with pg_database(args.pg) as url:
        upgrade(url)
        engine = make_engine(url)
        start = time.perf_counter()
        with engine.begin() as conn:
            fill(conn, args.transfers, args.accounts)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE ledger_transfers"))
            conn.execute(text("VACUUM ANALYZE ledger_balances"))
        print(f"  filled in {time.perf_counter() - start:.1f}s")

        start = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*), sum(amount) FROM ledger_transfers")).one()
        scan = time.perf_counter() - start

        full = ledger_check.check_and_checkpoint(engine, full=True)
        assert full.problems == [], full.problems[:5]
        took = full.seconds

        # Then a day's worth of new payments through the ledger itself, and the default
        # (fast) check, which reads only those since the checkpoint the full run saved.
        rng = random.Random(7)
        for batch in range(NEW // 1_000):
            with engine.begin() as conn:
                outcomes = SqlLedger(conn, now).create_transfers(
                    [
                        Transfer(
                            f"new{batch}-{i}",
                            f"wallet:b{a:07d}",
                            f"wallet:b{(a + rng.randrange(1, args.accounts)) % args.accounts:07d}",
                            rng.randint(1, 5_000),
                            "EUR",
                        )
                        for i in range(1_000)
                        for a in [rng.randrange(args.accounts)]
                    ]
                )
            assert all(o.ok for o in outcomes)
        fast = ledger_check.check_and_checkpoint(engine)
        assert fast.problems == [], fast.problems[:5]
        assert fast.transfers == NEW, fast.transfers

        # The check must still see a fault at this size: one amount changed by a cent.
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE ledger_transfers SET amount = amount + 1 WHERE seq = :s"),
                {"s": args.accounts + args.transfers // 2},
            )
        tampered = ledger_check.check(engine)
        assert tampered, "the check missed a tampered transfer"
        engine.dispose()

    rate = (args.transfers + args.accounts) / took
    print(f"  sequential scan (baseline): {scan:.1f}s")
    print(
        f"  ledger check --full: {took:.1f}s, {rate:,.0f} transfers/s, {took / scan:.1f}x the scan"
    )
    print(
        f"  ledger check (from the checkpoint, {NEW:,} new): {fast.seconds:.1f}s,"
        f" {fast.seconds / scan:.2f}x the scan"
    )
    print(f"  tampered row found: {tampered[0]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "transfers": args.transfers,
            "accounts": args.accounts,
            "load_average": [load, os.getloadavg()[0]],
            "scan_s": scan,
            "check_full_s": took,
            "check_fast_s": fast.seconds,
            "new_since_checkpoint": NEW,
            "ratio_to_scan": took / scan,
        }
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
