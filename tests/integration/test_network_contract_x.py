"""The network contract on X, against the X stand-in over real HTTP (``-m x``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.x_harness import XHarness
from tests.networks.contract import NetworkContract
from tests.networks.x_standin import XWorld

pytestmark = pytest.mark.x


@pytest.fixture
def harness(x_standin: XWorld, engine: object, database_url: str) -> Iterator[XHarness]:
    built = XHarness(x_standin, database_url)
    yield built
    built.close()


class TestXContract(NetworkContract):
    pass
