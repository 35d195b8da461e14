"""A recycled handle over HTTP (issue 6, fix 4): Bob renames on the sandbox network,
Mallory takes @bob and his name; Alice's next payment to @bob says so before the PIN, in
the API and on the wallet's confirmation page; Bob's linked account follows his rename."""

from __future__ import annotations

import re

import httpx

from tests.e2e.people import PASSWORD, Person, eventually, unique
from tests.e2e.server import Server


def test_recycled_handle_is_flagged_before_the_pin(server: Server) -> None:
    alice = Person(server.base_url, "Alice Martin", unique("alice"), locale="en").member()
    bob = Person(server.base_url, "Bob Durand", unique("bob")).member()
    assert alice.top_up(30_00)["status"] == "succeeded"
    alice.post(f"@SmoneyFR #envoyer 2€ @{bob.handle}")
    first = alice.pending_for("")
    assert alice.confirm(first["id"]).json()["state"] == "settled"

    old, new = bob.handle, unique("bobby")
    auth = {"Authorization": f"Bearer {bob.sandbox_token}"}
    r = bob.http.patch("/sandbox/api/accounts/me", json={"handle": new}, headers=auth)
    assert r.status_code == 200, r.text
    Person(server.base_url, "Bob Durand", old).join_network()  # Mallory

    alice.post(f"@SmoneyFR #envoyer 7€ @{old}")
    second = eventually(
        lambda: next((i for i in alice.to_confirm() if i["id"] != first["id"]), None)
    )
    codes = [w["code"] for w in second["payee_warnings"]]
    assert codes == ["handle_reassigned", "new_account"], second
    assert "is no longer the account you paid before" in second["payee_warnings"][0]["message"]

    # The wallet page shows the warnings before the PIN field.
    with httpx.Client(base_url=server.base_url, timeout=30) as browser:
        form = browser.get("/login", headers={"Accept-Language": "en"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        email = f"{alice.handle.lower()}@example.org"
        fields = {"csrf": csrf.group(1), "email": email, "password": PASSWORD}
        assert browser.post("/login", data=fields).status_code == 303
        page = browser.get(f"/wallet/intents/{second['id']}").text
    assert 'id="payee-warnings"' in page
    assert page.index('id="payee-warnings"') < page.index('name="pin"')
    assert "may have changed hands" in page

    # Bob writes to the bot under his new name: his linked account follows.
    bob.post("@SmoneyFR hello")
    eventually(lambda: bob.http.get("/api/v1/me/identities").json()[0]["handle"] == new or None)
