"""Engines for SQLite and PostgreSQL that behave the same for envoi's transactions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


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

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
