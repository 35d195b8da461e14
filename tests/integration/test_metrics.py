"""``GET /metrics``: what a payment does shows up in Prometheus' text format."""

from __future__ import annotations

import warnings

from prometheus_client.parser import text_string_to_metric_families

from envoi.web.app import create_app
from tests.integration.flow_app import World

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the httpx it finds works the same.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

BOT = "SmoneyFR"


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_a_payment_is_counted(world: World) -> None:
    alice = world.person("alice", funds=50_00)
    bob = world.person("bob")
    with TestClient(create_app(world.app, run_workers=False)) as client:
        before = scrape(client)
        world.post(alice, f"@{BOT} #envoyer 5€ @{bob.handle}")
        assert client.get("/healthz").status_code == 200
        world.clock.advance(seconds=30)
        after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("envoi_commands_total", network="sandbox", outcome="intent") == 1
    assert grew("envoi_http_requests_total", route="/healthz", method="GET", status="200") == 1
    assert grew("envoi_ledger_batch_transfers_count") >= 1  # the hold
    assert after[("envoi_intents", (("state", "awaiting_confirmation"),))] == 1
    # The bot's answer to the post waits in the outbox (no worker here) since 30 s.
    assert after[("envoi_outbox_lag_seconds", ())] >= 30
    assert ("envoi_ingest_lag_seconds", (("network", "sandbox"),)) in after
