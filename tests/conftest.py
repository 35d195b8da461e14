"""Shared fixtures: one database per test session (SQLite file, or PostgreSQL when
``ENVOI_TEST_DATABASE_URL`` is set), migrated with Alembic, emptied after each test."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import settings
from sqlalchemy import Engine

from envoi.adapters.db.engine import make_engine
from envoi.adapters.db.migrate import upgrade
from envoi.adapters.db.schema import metadata
from tests.databases import BACKENDS, empty_database

# No time limit per example: on a shared 2-core machine a 200 ms deadline fails tests
# at random, and timing belongs in bench/, never in a unit test.
settings.register_profile("envoi", deadline=None)
settings.load_profile("envoi")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database for this test process (see ``BACKENDS``)."""
    with empty_database(request.param, tmp_path_factory.mktemp("db")) as url:
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
            # The audit trail is append-only (triggers refuse DELETE) and its chains
            # stay valid across tests: it is kept, never emptied.
            if table.name not in {"audit_log", "audit_heads"}:
                conn.execute(table.delete())


@pytest.fixture
def engine(_session_engine: Engine) -> Iterator[Engine]:
    """The test database, emptied after the test."""
    yield _session_engine
    empty_all_tables(_session_engine)


@pytest.fixture
def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


_SESSION_STARTED = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The real servers this run started, and what they cost (start-up, memory)."""
    from tests.servers.synapse import figures_since

    line = figures_since(_SESSION_STARTED)
    if line is not None:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def mastodon_url() -> Iterator[str]:
    """The Mastodon stand-in, once per test process (each test resets it)."""
    from tests.networks.mastodon_standin import serve_standin

    with serve_standin() as url:
        yield url
