"""``envoi run --processes 2``: two API processes and a worker process serve one database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.people import Person, eventually, unique
from tests.e2e.server import Server, running_server

BOT = "SmoneyFR"


@pytest.fixture(scope="module")
def multi_server(backend_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(
        backend_url, tmp_path_factory.mktemp("logs"), processes=2, sandbox="1"
    ) as live:
        yield live
    result = live.cli("ledger", "check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_payment_across_processes(multi_server: Server) -> None:
    alice = Person(multi_server.base_url, "Alice Martin", unique("alice")).member()
    bob = Person(multi_server.base_url, "Bob Durand", unique("bob")).member()
    assert alice.top_up(20_00)["status"] == "succeeded"

    # Each person's requests go over their own connection: across the two API processes,
    # the post, the listing and the confirmation must see one another's writes.
    post_id = alice.post(f"@{BOT} #envoyer 5€ @{bob.handle}")
    intent = alice.pending_for(post_id)
    r = alice.confirm(intent["id"])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "settled"
    assert bob.wallet()["balance_minor"] == 5_00
    # The bot's public answer is sent by the outbox job, which runs only in the worker
    # process: its arrival shows that process is up and doing the background work.
    final = eventually(lambda: next((p for p in bob.inbox() if "✅" in p["text"]), None))
    assert final["in_reply_to"] == post_id
