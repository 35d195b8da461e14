"""Shared fixtures: one database per test session (SQLite file, or PostgreSQL when
``ENVOI_TEST_DATABASE_URL`` is set), migrated with Alembic, emptied after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from envoi.adapters.db.engine import make_engine
from envoi.adapters.db.migrate import upgrade
from envoi.adapters.db.schema import metadata
from tests.databases import create_pg_database, drop_pg_database

PG_URL = os.environ.get("ENVOI_TEST_DATABASE_URL")


BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database for this test process: SQLite always, and PostgreSQL
    too when ``ENVOI_TEST_DATABASE_URL`` is set, so every database test runs on both."""
    if request.param == "postgresql":
        assert PG_URL is not None
        url, name = create_pg_database(PG_URL)
        upgrade(url)
        yield url
        drop_pg_database(PG_URL, name)
    else:
        path: Path = tmp_path_factory.mktemp("db") / "envoi-test.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def _session_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def engine(_session_engine: Engine) -> Iterator[Engine]:
    """The test database, emptied after the test."""
    yield _session_engine
    empty_all_tables(_session_engine)


@pytest.fixture
def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
