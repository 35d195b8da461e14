"""Live servers for the end-to-end tests: SQLite always, PostgreSQL too when configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.databases import BACKENDS, empty_database
from tests.e2e.people import OPEN_CLIENTS
from tests.e2e.server import Server, running_server


@pytest.fixture(scope="module", params=BACKENDS)
def backend_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with empty_database(request.param, tmp_path_factory.mktemp("e2e")) as url:
        yield url


@pytest.fixture(scope="module")
def server(backend_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service as ``make run`` starts it, with its default windows and limits."""
    with running_server(backend_url, tmp_path_factory.mktemp("logs")) as live:
        yield live
    result = live.cli("ledger", "check")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Short confirmation (4 s) and claim (3 s) windows: expiry and refunds happen for real."""
    path = tmp_path_factory.mktemp("e2e-fast") / "envoi.db"
    with running_server(
        f"sqlite:///{path}",
        tmp_path_factory.mktemp("logs"),
        confirmation_window_s="4",
        claim_window_s="3",
    ) as live:
        yield live
    result = live.cli("ledger", "check")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()
