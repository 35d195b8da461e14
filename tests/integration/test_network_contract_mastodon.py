"""The network contract on Mastodon, against the Mastodon stand-in over real HTTP
(``tests/networks/mastodon_standin.py``: no Mastodon server can run here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.networks.contract import NetworkContract
from tests.networks.mastodon_harness import MastodonHarness

pytestmark = pytest.mark.mastodon


@pytest.fixture
def harness(engine: Engine, database_url: str, mastodon_url: str) -> Iterator[MastodonHarness]:
    built = MastodonHarness(mastodon_url, database_url)
    yield built
    built.close()


class TestMastodonContract(NetworkContract):
    pass
