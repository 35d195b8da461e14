"""Ledger throughput: SqlLedger one transfer per transaction, SqlLedger batched, and a naive
driver-only baseline (one UPDATE, UPDATE, INSERT transaction per transfer), on SQLite and
PostgreSQL, with durable commits, on tables that already hold data.

    .venv/bin/python bench/ledger.py [--pg URL] [--no-pg] [--quick]

SQLite runs in a temp file (WAL, synchronous=FULL); PostgreSQL in a throwaway database
created next to ``--pg`` and dropped afterwards (synchronous_commit as configured: on).
After each backend the ledger check must pass.
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from envoi.adapters.db import ledger_check
from envoi.adapters.db.engine import make_engine
from envoi.adapters.db.ledger_store import SqlLedger
from envoi.adapters.db.migrate import upgrade
from envoi.ledger.model import Account, AccountFlags, Transfer

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WALLETS = 1_000
FUNDS = 10**12  # per wallet: payments never run out, so every run does the same work
BATCH = 1_000
ROUNDS = 3  # each contender runs this many times, interleaved; the median is reported
CARDS, FEES = "system:card_clearing:EUR", "system:fees:EUR"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Sizes:
    seed: int  # transfers already in the table before measuring
    single: int  # transfers for the one-per-transaction runs
    batched: int  # transfers for the batched run


def wallet(i: int) -> str:
    return f"wallet:bench{i:05d}"


class Workload:
    """Random payments between funded wallets, with fresh ids."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.run = uuid.uuid4().hex[:8]
        self.n = 0

    def next(self) -> Transfer:
        self.n += 1
        a, b = self.rng.sample(range(WALLETS), 2)
        amount = self.rng.randint(1, 50_00)
        return Transfer(f"{self.run}-{self.n}", wallet(a), wallet(b), amount, "EUR", "payment")

    def batch(self, size: int) -> list[Transfer]:
        return [self.next() for _ in range(size)]


# -- setup ------------------------------------------------------------------------------


def seed(engine: Engine, count: int) -> None:
    """Accounts, funding, and ``count`` past transfers, then statistics as in production."""
    with engine.begin() as conn:
        ledger = SqlLedger(conn, now)
        ledger.create_accounts(
            [
                Account(CARDS, "EUR", "card_clearing", AccountFlags.SHARDED),
                Account(FEES, "EUR", "fees", AccountFlags.SHARDED),
                *(
                    Account(wallet(i), "EUR", "wallet", AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
                    for i in range(WALLETS)
                ),
            ]
        )
        funding = [Transfer(f"fund{i}", CARDS, wallet(i), FUNDS, "EUR") for i in range(WALLETS)]
        assert all(o.ok for o in ledger.create_transfers(funding))
    work = Workload(seed=1)
    for _ in range(count // BATCH):
        with engine.begin() as conn:
            assert all(o.ok for o in SqlLedger(conn, now).create_transfers(work.batch(BATCH)))
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def pg_database(base_url: str) -> Iterator[str]:
    name = f"envoi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- the three contenders ----------------------------------------------------------------


def ledger_single(engine: Engine, transfers: list[Transfer]) -> None:
    with engine.connect() as conn:  # one connection, as the naive baseline has
        for t in transfers:
            with conn.begin():
                [outcome] = SqlLedger(conn, now).create_transfers([t])
            assert outcome.ok


def ledger_batched(engine: Engine, transfers: list[Transfer]) -> None:
    with engine.connect() as conn:
        for i in range(0, len(transfers), BATCH):
            with conn.begin():
                outcomes = SqlLedger(conn, now).create_transfers(transfers[i : i + BATCH])
            assert all(o.ok for o in outcomes)


# The naive baseline: what one writes first, with the driver alone. One balance column
# guarded by a CHECK, a transfers table with the usual FKs and history indexes; per
# transfer: guarded debit UPDATE, credit UPDATE, INSERT, COMMIT. Same seed data.
NAIVE_SCHEMA = [
    "CREATE TABLE naive_accounts (id VARCHAR(100) PRIMARY KEY,"
    " balance BIGINT NOT NULL CHECK (balance >= 0))",
    "CREATE TABLE naive_transfers (id VARCHAR(100) PRIMARY KEY,"
    " debit_account_id VARCHAR(100) NOT NULL REFERENCES naive_accounts (id),"
    " credit_account_id VARCHAR(100) NOT NULL REFERENCES naive_accounts (id),"
    " amount BIGINT NOT NULL CHECK (amount > 0), created_at TIMESTAMP NOT NULL)",
    "CREATE INDEX ix_naive_debit ON naive_transfers (debit_account_id)",
    "CREATE INDEX ix_naive_credit ON naive_transfers (credit_account_id)",
]
NAIVE_DEBIT = "UPDATE naive_accounts SET balance = balance - {p} WHERE id = {p} AND balance >= {p}"
NAIVE_CREDIT = "UPDATE naive_accounts SET balance = balance + {p} WHERE id = {p}"
NAIVE_INSERT = "INSERT INTO naive_transfers VALUES ({p}, {p}, {p}, {p}, {p})"


def naive_seed(db: Any, p: str, count: int) -> None:
    """The naive tables get the same accounts and past transfers as the ledger's."""
    for statement in NAIVE_SCHEMA:
        db.execute(statement)
    stamp = datetime(2026, 1, 1)  # noqa: DTZ001 -- naive on purpose: a plain TIMESTAMP
    cur = db.cursor()
    cur.executemany(
        f"INSERT INTO naive_accounts VALUES ({p}, {p})",
        [(wallet(i), FUNDS) for i in range(WALLETS)],
    )
    past = Workload(seed=1).batch(count)
    cur.executemany(
        NAIVE_INSERT.format(p=p),
        [(t.id, t.debit_account_id, t.credit_account_id, t.amount, stamp) for t in past],
    )
    db.execute("ANALYZE")


def naive_transfer(db: Any, p: str, t: Transfer) -> None:
    cur = db.execute(NAIVE_DEBIT.format(p=p), (t.amount, t.debit_account_id, t.amount))
    assert cur.rowcount == 1
    db.execute(NAIVE_CREDIT.format(p=p), (t.amount, t.credit_account_id))
    stamp = now().replace(tzinfo=None)
    db.execute(
        NAIVE_INSERT.format(p=p),
        (t.id, t.debit_account_id, t.credit_account_id, t.amount, stamp),
    )


@contextmanager
def naive_sqlite(url: str, past: int) -> Iterator[Callable[[list[Transfer]], None]]:
    db = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # as envoi's engine: durable commits
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("BEGIN")
    naive_seed(db, "?", past)
    db.execute("COMMIT")

    def run(transfers: list[Transfer]) -> None:
        for t in transfers:
            db.execute("BEGIN IMMEDIATE")
            naive_transfer(db, "?", t)
            db.execute("COMMIT")

    yield run
    db.close()


@contextmanager
def naive_pg(url: str, past: int) -> Iterator[Callable[[list[Transfer]], None]]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as db:
        with db.transaction():
            naive_seed(db, "%s", past)

        def run(transfers: list[Transfer]) -> None:
            for t in transfers:
                with db.transaction():
                    naive_transfer(db, "%s", t)

        yield run


# -- driver -----------------------------------------------------------------------------


def timed(fn: Callable[[list[Transfer]], None], transfers: list[Transfer]) -> float:
    start = time.perf_counter()
    fn(transfers)
    return len(transfers) / (time.perf_counter() - start)


def bench_backend(name: str, url: str, sizes: Sizes) -> dict[str, list[float]]:
    """Seeds, then runs the three contenders in turn, ROUNDS times (rates per round)."""
    t0 = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    seed(engine, sizes.seed)
    print(f"  {name}: seeded {sizes.seed + WALLETS:,} transfers in {time.perf_counter() - t0:.1f}s")
    work = Workload(seed=2)
    plan = [
        (work.batch(sizes.single), work.batch(sizes.single), work.batch(sizes.batched))
        for _ in range(ROUNDS)
    ]
    # The prepared workloads are the bench's, not the ledger's: keep the garbage collector
    # from rescanning them (a service does not hold 50,000 transfers in memory).
    gc.collect()
    gc.freeze()
    rates: dict[str, list[float]] = {"naive": [], "single": [], "batched": []}
    naive = naive_pg if name == "PostgreSQL" else naive_sqlite
    with naive(url, sizes.seed) as naive_run:
        for naive_work, single_work, batched_work in plan:
            rates["naive"].append(timed(naive_run, naive_work))
            rates["single"].append(timed(lambda ts: ledger_single(engine, ts), single_work))
            rates["batched"].append(timed(lambda ts: ledger_batched(engine, ts), batched_work))
    gc.unfreeze()
    problems = ledger_check.check(engine)
    assert not problems, problems
    print(f"  {name}: ledger check OK after {time.perf_counter() - t0:.1f}s")
    engine.dispose()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server URL (any database)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    sizes = Sizes(5_000, 200, 5_000) if args.quick else Sizes(100_000, 2_000, 50_000)

    results: dict[str, dict[str, list[float]]] = {}
    print(
        f"ledger bench: {WALLETS:,} wallets, {sizes.seed + WALLETS:,} transfers already stored,"
        f" batches of {BATCH:,}, durable commits, median of {ROUNDS} rounds"
    )
    with sqlite_database() as url:
        results["SQLite"] = bench_backend("SQLite", url, sizes)
    if not args.no_pg:
        with pg_database(args.pg) as url:
            results["PostgreSQL"] = bench_backend("PostgreSQL", url, sizes)

    print()
    print(f"{'backend':<11} {'mode':<32} {'transfers/s':>11} {'(min-max)':>17} {'vs naive':>9}")
    labels = {
        "naive": "naive driver, 1 per transaction",
        "single": "ledger, 1 per transaction",
        "batched": f"ledger, {BATCH:,} per batch",
    }
    for backend, rates in results.items():
        naive = statistics.median(rates["naive"])
        for mode, label in labels.items():
            rate = statistics.median(rates[mode])
            spread = f"({min(rates[mode]):,.0f}-{max(rates[mode]):,.0f})"
            print(f"{backend:<11} {label:<32} {rate:>11,.0f} {spread:>17} {rate / naive:>8.2f}x")


if __name__ == "__main__":
    main()
