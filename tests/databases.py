"""Throwaway PostgreSQL databases for tests, created from ``ENVOI_TEST_DATABASE_URL``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def create_pg_database(base_url: str) -> tuple[str, str]:
    """Create an empty database beside ``base_url``'s; returns (its URL, its name)."""
    name = f"envoi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


def drop_pg_database(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


PG_URL = os.environ.get("ENVOI_TEST_DATABASE_URL")
# Every database test runs on SQLite, and on PostgreSQL too when it is configured.
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database of that backend, dropped afterwards."""
    if backend == "postgresql":
        assert PG_URL is not None
        url, name = create_pg_database(PG_URL)
        try:
            yield url
        finally:
            drop_pg_database(PG_URL, name)
    else:
        yield f"sqlite:///{folder / 'envoi-test.db'}"
