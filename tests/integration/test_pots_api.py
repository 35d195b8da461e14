"""Pots through their doors (issue 11): created and paid out by the API, contributed to
from the public page (which shows progress, names by choice and a QR code), the
payout batch written and settled with ``envoi payouts``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from envoi.domain import accounts
from envoi.web.app import create_app
from tests.integration.flow_app import BOT, PIN, World
from tests.integration.test_new_user import run_cli, sign_in
from tests.integration.test_organisations_api import TestClient, bearer
from tests.integration.test_pots import JULIE_IBAN, official_xsd, pain002


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.app, run_workers=False)) as c:
        yield c


def test_pot_page_contribution_payout_and_the_bank_files(
    world: World,
    client: TestClient,
    database_url: str,
    tmp_path: Path,
) -> None:
    julie = world.person("julie")
    alice = world.person("alice", funds=50_00)
    world.person("bob", funds=50_00)
    as_julie = bearer(client, "julie@example.org")
    created = client.post(
        "/api/v1/me/pots",
        json={"hashtag": "AnnivJulie", "title": "Anniversaire de Julie", "goal_minor": 40_00,
              "closes_at": "2026-12-31T23:00:00+00:00"},
        headers=as_julie,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["closes_at"].startswith("2026-12-31")
    # Bob by post; Alice from the page, choosing to show her name.
    world.post(world.people["bob"], f"@{BOT} #cagnotte 15€ #AnnivJulie")
    (bob_intent,) = world.pending(world.people["bob"])
    world.app.lifecycle.confirm(world.people["bob"].member.id, bob_intent, PIN)
    page = client.get("/pots/annivjulie")
    assert page.status_code == 200
    assert 'id="pot-qr"><svg' in page.text.replace("\n", "")
    sign_in(client, "alice@example.org", "long enough password")
    page = client.get("/pots/annivjulie")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = client.post(
        "/pots/annivjulie/contribute",
        data={"csrf": csrf.group(1), "amount": "10,50", "show_name": "1"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    intent_id = answer.headers["location"].rsplit("/", 1)[1]
    confirm_page = client.get(answer.headers["location"])  # the wallet's, before the PIN
    assert confirm_page.status_code == 200
    assert "10,50" in confirm_page.text
    world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    public = client.get("/api/v1/pots/annivjulie").json()
    assert public["raised_minor"] == 25_50
    assert public["contributors"] == 2
    assert public["names"] == ["Alice"]
    assert public["progress_percent"] == 63
    shown = client.get("/pots/annivjulie").text
    assert 'value="63"' in shown
    assert "Alice" in shown
    # The owner pays it out to an IBAN; the operator batches, the bank answers.
    paid = client.post("/api/v1/me/pots/annivjulie/payout", headers=as_julie,
                       json={"to": "iban", "iban": JULIE_IBAN, "name": "Julie Dupont"})  # fmt: skip
    assert paid.status_code == 201, paid.text
    payout_id = paid.json()["id"]
    out = tmp_path / "batch.xml"
    made = run_cli(database_url, "payouts", "batch", "--out", str(out))
    official_xsd().assertValid(etree.fromstring(out.read_bytes()))
    batch_id = made.split()[0]
    report = tmp_path / "pain002.xml"
    report.write_bytes(pain002(batch_id, rejected={payout_id: "AC01"}, accepted=[]))
    assert f"{payout_id} rejected" in run_cli(database_url, "payouts", "status", str(report))
    (state,) = client.get("/api/v1/me/payouts", headers=as_julie).json()
    assert (state["state"], state["reason"]) == ("rejected", "AC01")
    assert world.app.wallet.ledger_balance(accounts.pot(created.json()["id"])).available == 25_50
    assert batch_id in run_cli(database_url, "payouts", "list")
    closed = client.post("/api/v1/me/pots/annivjulie/close", headers=as_julie)
    assert closed.json()["closed_at"] is not None
    assert 'id="pot-closed"' in client.get("/pots/annivjulie").text
    to_wallet = client.post("/api/v1/me/pots/annivjulie/payout", headers=as_julie,
                            json={"to": "member"})  # fmt: skip
    assert to_wallet.json()["amount_minor"] == 25_50
    assert world.available(julie) == 25_50
