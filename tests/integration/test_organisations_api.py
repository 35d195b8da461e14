"""Organisations through their doors (issue 11): a member registers one by the API (it
stays unverified), the operator lists and verifies it with ``envoi org``, its public
page shows the badge, a donor chooses a message and gets the receipt PDF by the API."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator

import pypdf
import pytest

from envoi.web.app import create_app
from tests.integration.flow_app import BOT, PIN, World
from tests.integration.test_donations import IBAN
from tests.integration.test_new_user import run_cli, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # see test_sandbox_network
    from fastapi.testclient import TestClient


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.app, run_workers=False)) as c:
        yield c


def bearer(client: TestClient, email: str) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/token", json={"email": email, "password": "long enough password"}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


ORG = {
    "email": "potes@org.example",
    "password": "long enough password",
    "display_name": "Les Potes du Quartier",
    "legal_name": "Association Les Potes du Quartier",
    "registry_id": "W751234567",
    "address": "1 place du Marché, 44000 Nantes",
    "purpose": "Repas partagés",
    "tax_receipts": True,
    "iban": IBAN,
}


def test_member_registers_operator_verifies_donor_gets_the_pdf(
    world: World, client: TestClient, database_url: str
) -> None:
    alice = world.person("alice", funds=50_00)
    world.person("potes", member=False)
    me = bearer(client, "alice@example.org")
    refused = client.post("/api/v1/organisations", json={**ORG, "registry_id": "123456789"},
                          headers=me)  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "INVALID_REGISTRY_ID"
    refused = client.post("/api/v1/organisations", json={**ORG, "iban": "FR7600000000000"},
                          headers=me)  # fmt: skip
    assert refused.json()["error"]["code"] == "INVALID_IBAN"
    created = client.post("/api/v1/organisations", json=ORG, headers=me)
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]
    assert created.json()["verified"] is False
    page = client.get(f"/organisations/{org_id}")
    assert page.status_code == 200
    assert 'id="org-unverified"' in page.text
    public = client.get(f"/api/v1/organisations/{org_id}").json()
    assert public["iban"] == "FR76 •••• 0189"  # never the whole IBAN in public
    # The operator's console for now: the CLI.
    listed = run_cli(database_url, "org", "list", "--unverified")
    assert org_id in listed
    assert "rna:W751234567" in listed
    run_cli(database_url, "org", "link", org_id, "--network", "sandbox", "--handle", "potes")
    assert f"{org_id} verified" in run_cli(database_url, "org", "verify", org_id)
    assert 'id="org-verified"' in client.get(f"/organisations/{org_id}").text
    # A donation by post; the donor's choices and details by the API, then the PIN.
    world.post(alice, f"@{BOT} #don 12€ @potes")
    (intent_id,) = world.pending(alice)
    assert client.put("/api/v1/me/donor-details", headers=me,
                      json={"full_name": "Alice Martin", "address": "3 rue des Lilas, Lyon"}
                      ).status_code == 204  # fmt: skip
    chose = client.put(
        f"/api/v1/me/intents/{intent_id}/donation",
        json={"message": "Merci !", "anonymous": False},
        headers=me,
    )
    assert chose.status_code == 204, chose.text
    confirmed = client.post(f"/api/v1/me/intents/{intent_id}/confirm", json={"pin": PIN},
                            headers=me)  # fmt: skip
    assert confirmed.json()["state"] == "settled"
    (receipt,) = client.get("/api/v1/me/tax-receipts", headers=me).json()
    assert receipt["number"] == "2026-000001"
    assert receipt["amount_in_words"] == "douze euros"
    pdf = client.get(f"/api/v1/me/tax-receipts/{receipt['id']}/pdf", headers=me)
    assert pdf.headers["content-type"] == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Association Les Potes du Quartier" in text
    assert "Alice Martin" in text
    assert "douze euros" in text
    summary = client.get("/api/v1/me/tax-receipts/summary/2026.pdf", headers=me)
    assert "2026-000001" in pypdf.PdfReader(io.BytesIO(summary.content)).pages[0].extract_text()
    # Someone else's receipt is as unknown as a missing one.
    world.person("bob")
    other = client.get(
        f"/api/v1/me/tax-receipts/{receipt['id']}", headers=bearer(client, "bob@example.org")
    )
    assert other.status_code == 404
    # In the web wallet too.
    sign_in(client, "alice@example.org")
    listed = client.get("/wallet/receipts")
    assert "2026-000001" in listed.text
    web_pdf = client.get(f"/wallet/receipts/{receipt['id']}.pdf")
    assert "douze euros" in pypdf.PdfReader(io.BytesIO(web_pdf.content)).pages[0].extract_text()
    assert client.get("/wallet/receipts/summary-2026.pdf").headers["content-type"] == (
        "application/pdf"
    )
    shown = client.get(f"/organisations/{org_id}").text
    assert "Alice" in shown
    assert "Merci !" in shown
