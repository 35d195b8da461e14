"""Engines for SQLite and PostgreSQL that behave the same for envoi's transactions."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

_HOLDS_WRITERS = "envoi_holds_writers_lock"


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

    kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    if parsed.database in (None, "", ":memory:"):
        raise ValueError("envoi needs a SQLite file, not an in-memory database")
    kwargs.setdefault("poolclass", NullPool)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # durable commits
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB, not 2: ledgers grow
        cursor.close()

    # Writers of this process queue on a lock before asking SQLite for its write lock.
    # SQLite's own busy handler makes a waiting writer sleep 1, 2, 5 … 100 ms between
    # tries, so under contention the write lock sits free while everyone sleeps: with 16
    # threads the ledger ran at a quarter of one thread's rate. The lock hands over at
    # once, in arrival order; other processes still meet SQLite's busy timeout. It is
    # reentrant, so a nested transaction in the same thread behaves as before (SQLite
    # refuses it after the busy timeout) instead of hanging.
    writers = threading.RLock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        writers.acquire()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.release()
            raise
        conn.info[_HOLDS_WRITERS] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Any) -> None:
        # Once per transaction: a failed COMMIT is followed by a rollback.
        if conn.info.pop(_HOLDS_WRITERS, False):
            writers.release()

    return engine
