"""Engines for SQLite and PostgreSQL that behave the same for envoi's transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_S = 30


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, durable commits and write-locking transactions.

    SQLite's default deferred transactions take the write lock only at the first
    write, so two read-then-write transactions can deadlock (SQLITE_BUSY with no
    retry). Starting every transaction with ``BEGIN IMMEDIATE`` serialises writers
    up front, which is what a ledger wants; WAL keeps readers unblocked.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    connect_args = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    kwargs.setdefault("connect_args", connect_args)
    if parsed.database in (None, "", ":memory:"):
        raise ValueError("envoi needs a SQLite file, not an in-memory database")
    # Keep a few connections open: opening one costs a file open and five PRAGMAs, and a
    # fresh one starts with a cold page cache. Never make a thread wait for one
    # (unbounded overflow): writers already queue on the lock below.
    kwargs.setdefault("poolclass", QueuePool)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", -1)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # durable commits
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB, not 2: ledgers grow
        cursor.close()

    _queue_writers(engine)
    return engine


def _queue_writers(engine: Engine) -> None:
    """Writers of this process queue on a lock before asking SQLite for its write lock.

    SQLite's own busy handler makes a waiting writer sleep 1, 2, 5 … 100 ms between tries,
    so under contention the write lock sits free while everyone sleeps (16 threads ran the
    ledger at a fraction of one thread's rate). The lock hands over at once, right after
    the COMMIT or ROLLBACK has returned; other processes still meet SQLite's busy
    timeout. A writer that waits longer than that timeout gets SQLite's own "database is
    locked" error, so a nested transaction in one thread fails as before instead of hanging.
    """
    writers = threading.Lock()
    holders: set[int] = set()  # pooled connections inside a write transaction

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not writers.acquire(timeout=BUSY_TIMEOUT_S):
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("BEGIN IMMEDIATE", None, locked)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.release()
            raise
        holders.add(id(conn.connection))  # what the dialect's COMMIT is given

    def released_after(end: Callable[[Any], None]) -> Callable[[Any], None]:
        # Wraps the dialect's own COMMIT and ROLLBACK (also used when the pool resets a
        # connection), so the next writer starts once this one's commit is on disk.
        def end_then_release(connection: Any) -> None:
            try:
                end(connection)
            finally:
                if id(connection) in holders:
                    holders.discard(id(connection))
                    writers.release()

        return end_then_release

    dialect = engine.dialect
    dialect.do_commit = released_after(dialect.do_commit)  # type: ignore[method-assign,assignment]
    dialect.do_rollback = released_after(dialect.do_rollback)  # type: ignore[method-assign,assignment]
