"""A real Synapse for the Matrix tests, one per test run, shared by the xdist workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.synapse import SharedSynapse, Synapse


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.matrix)


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    # The directory every worker of this run shares (xdist's basetemp parent).
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", "solo")
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / f"synapse-{run_id}"
    shared.mkdir(parents=True, exist_ok=True)
    server = SharedSynapse(shared)
    found = server.acquire()
    print(f"synapse {found.url}: up in {found.startup_s:.1f} s, RSS {found.rss_kb / 1024:.0f} MiB")
    try:
        yield found
    finally:
        server.release()
