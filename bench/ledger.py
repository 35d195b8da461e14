"""Ledger throughput: SqlLedger one transfer per transaction (1, 4 and 16 concurrent
clients), SqlLedger batched (1,000 and 8,190 per batch), a naive driver-only baseline (one
UPDATE, UPDATE, INSERT transaction per transfer) and, on PostgreSQL, pgbench's TPC-B run
on the same server at 16 clients (the practical limit of one bank transfer per
transaction); SQLite and PostgreSQL, durable commits, tables that already hold data.

    .venv/bin/python bench/ledger.py [--pg URL] [--no-pg] [--quick] [--json FILE]

SQLite runs in a temp file (WAL, synchronous=FULL); PostgreSQL in a throwaway database
created next to ``--pg`` and dropped afterwards (synchronous_commit as configured: on).
After each backend the ledger check must pass.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
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
from envoi.adapters.db.ledger_store import SqlLedger, transact
from envoi.adapters.db.migrate import upgrade
from envoi.ledger.model import Account, AccountFlags, Transfer

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WALLETS = 1_000
FUNDS = 10**12  # per wallet: payments never run out, so every run does the same work
BATCH = 1_000
BIG_BATCH = 8_190  # the most TigerBeetle puts in one request
CONCURRENCY = (4, 16)  # besides 1: clients each with its own connection
PGBENCH_CLIENTS = 16
ROUNDS = 3  # each contender runs this many times, interleaved; the median is reported
CARDS, FEES = "system:card_clearing:EUR", "system:fees:EUR"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Sizes:
    seed: int  # transfers already in the table before measuring
    single: int  # transfers for the one-per-transaction runs
    batched: int  # transfers for the batched run
    seconds: float  # length of each concurrent run and of pgbench


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


# -- the contenders ------------------------------------------------------------------------


def ledger_single(engine: Engine, transfers: list[Transfer]) -> None:
    with engine.connect() as conn:  # one connection, as the naive baseline has
        for t in transfers:
            with conn.begin():
                [outcome] = SqlLedger(conn, now).create_transfers([t])
            assert outcome.ok


def ledger_batched(engine: Engine, transfers: list[Transfer], size: int = BATCH) -> None:
    with engine.connect() as conn:
        for i in range(0, len(transfers), size):
            with conn.begin():
                outcomes = SqlLedger(conn, now).create_transfers(transfers[i : i + size])
            assert all(o.ok for o in outcomes)


def ledger_concurrent(engine: Engine, clients: int, seconds: float) -> float:
    """``clients`` threads, each its own connection, one transfer per transaction (retried
    on a deadlock or serialization failure, as the service does) for ``seconds``: rate."""
    counts = [0] * clients
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        work = Workload(seed=100 + i)
        try:
            start.wait()
            while time.perf_counter() < stop_at[0]:
                t = work.next()
                [outcome] = transact(engine, lambda c, t=t: SqlLedger(c, now).create_transfers([t]))
                assert outcome.ok, outcome
                counts[i] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(counts) / (time.perf_counter() - began)


def pgbench(url: str, *options: str) -> str:
    exe = shutil.which("pgbench")
    if exe is None:
        raise SystemExit("pgbench not found: apt-get install postgresql-client (or --no-pg)")
    u = make_url(url)
    where = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    env = {**os.environ, **({"PGPASSWORD": u.password} if u.password else {})}
    command = [exe, *options, *where, u.database or "postgres"]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    return done.stdout


def pgbench_tpcb(url: str, clients: int, seconds: float) -> float:
    """pgbench's built-in TPC-B (3 UPDATEs, a SELECT, an INSERT per transaction) on the
    same server, its own tables in the bench database: transactions per second."""
    duration = str(max(1, round(seconds)))
    out = pgbench(url, "-n", "-c", str(clients), "-j", "2", "-T", duration)
    found = re.search(r"tps = ([0-9.]+)", out)
    assert found, out
    return float(found.group(1))


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
    """Seeds, then runs the contenders in turn, ROUNDS times (rates per round)."""
    t0 = time.perf_counter()
    upgrade(url)
    pool = {"pool_size": max(CONCURRENCY) + 1} if name == "PostgreSQL" else {}
    engine = make_engine(url, **pool)
    seed(engine, sizes.seed)
    print(f"  {name}: seeded {sizes.seed + WALLETS:,} transfers in {time.perf_counter() - t0:.1f}s")
    work = Workload(seed=2)
    plan = [
        (
            work.batch(sizes.single),
            work.batch(sizes.single),
            work.batch(sizes.batched),
            work.batch(sizes.batched),
        )
        for _ in range(ROUNDS)
    ]
    # The prepared workloads are the bench's, not the ledger's: keep the garbage collector
    # from rescanning them (a service does not hold 50,000 transfers in memory).
    gc.collect()
    gc.freeze()
    rates: dict[str, list[float]] = {mode: [] for mode in LABELS}
    naive = naive_pg if name == "PostgreSQL" else naive_sqlite
    if name == "PostgreSQL":
        # Scale = clients, as pgbench's documentation advises (one branch row per client).
        pgbench(url, "-i", "-q", "-s", str(PGBENCH_CLIENTS))
    with naive(url, sizes.seed) as naive_run:
        for naive_work, single_work, batched_work, big_work in plan:
            rates["naive"].append(timed(naive_run, naive_work))
            rates["single"].append(timed(lambda ts: ledger_single(engine, ts), single_work))
            for clients in CONCURRENCY:
                rate = ledger_concurrent(engine, clients, sizes.seconds)
                rates[f"single_{clients}"].append(rate)
            rates["batched"].append(timed(lambda ts: ledger_batched(engine, ts), batched_work))
            rates["batched_big"].append(
                timed(lambda ts: ledger_batched(engine, ts, BIG_BATCH), big_work)
            )
            if name == "PostgreSQL":
                rates["pgbench"].append(pgbench_tpcb(url, PGBENCH_CLIENTS, sizes.seconds))
    gc.unfreeze()
    problems = ledger_check.check(engine)
    assert not problems, problems
    print(f"  {name}: ledger check OK after {time.perf_counter() - t0:.1f}s")
    engine.dispose()
    return {mode: r for mode, r in rates.items() if r}


LABELS = {
    "naive": "naive driver, 1 per transaction",
    "single": "ledger, 1 per transaction",
    **{f"single_{c}": f"ledger, 1 per tx, {c} clients" for c in CONCURRENCY},
    "batched": f"ledger, {BATCH:,} per batch",
    "batched_big": f"ledger, {BIG_BATCH:,} per batch",
    "pgbench": f"pgbench TPC-B, {PGBENCH_CLIENTS} clients",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server URL (any database)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    sizes = Sizes(5_000, 200, 8_190, 2) if args.quick else Sizes(100_000, 2_000, 49_140, 5)

    results: dict[str, dict[str, list[float]]] = {}
    load_before = os.getloadavg()[0]
    print(
        f"ledger bench: {WALLETS:,} wallets, {sizes.seed + WALLETS:,} transfers already stored,"
        f" durable commits, median of {ROUNDS} rounds, load average {load_before:.1f}"
    )
    with sqlite_database() as url:
        results["SQLite"] = bench_backend("SQLite", url, sizes)
    if not args.no_pg:
        with pg_database(args.pg) as url:
            results["PostgreSQL"] = bench_backend("PostgreSQL", url, sizes)

    print()
    print(f"{'backend':<11} {'mode':<32} {'per s':>11} {'(min-max)':>17} {'vs naive':>9}")
    summary: list[dict[str, object]] = []
    for backend, rates in results.items():
        naive = statistics.median(rates["naive"])
        pgbench = statistics.median(rates["pgbench"]) if "pgbench" in rates else None
        for mode, label in LABELS.items():
            if mode not in rates:
                continue
            rate = statistics.median(rates[mode])
            spread = f"({min(rates[mode]):,.0f}-{max(rates[mode]):,.0f})"
            vs_pgbench = f"  {rate / pgbench:.2f}x pgbench" if pgbench and mode != "pgbench" else ""
            print(
                f"{backend:<11} {label:<32} {rate:>11,.0f} {spread:>17}"
                f" {rate / naive:>8.2f}x{vs_pgbench}"
            )
            summary.append(
                {
                    "backend": backend,
                    "mode": mode,
                    "label": label,
                    "per_s": rate,
                    "rounds": rates[mode],
                    "vs_naive": rate / naive,
                    "vs_pgbench": rate / pgbench if pgbench else None,
                }
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"load_average": [load_before, os.getloadavg()[0]], "results": summary}
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
