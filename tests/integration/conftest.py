"""Integration tests: after every test that used the database, the ledger must add up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from envoi.adapters.db import ledger_check
from tests.integration.flow_app import World, make_world
from tests.networks.x_standin import XWorld, serve


@pytest.fixture(autouse=True)
def _ledger_adds_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """Runs ``ledger_check.check`` after each test that used ``engine`` (before the
    tables are emptied) and fails the test on any problem."""
    if "engine" not in request.fixturenames:
        yield
        return
    # Requested from here, ``engine`` is set up first and so torn down after this check.
    engine: Engine = request.getfixturevalue("engine")
    yield
    problems = ledger_check.check(engine)
    if problems:
        pytest.fail("ledger check failed:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    """The assembled service on the test database, with a clock the test moves."""
    built = make_world(database_url)
    yield built
    built.app.engine.dispose()


@pytest.fixture(scope="session")
def x_standin() -> Iterator[XWorld]:
    """The X stand-in over real HTTP on 127.0.0.1, one per test session (and process)."""
    with serve() as standin:
        yield standin
