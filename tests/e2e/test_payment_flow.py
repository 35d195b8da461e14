"""The seed's story over real HTTP against a live server, and every unhappy path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.people import PIN, Person, eventually, unique
from tests.e2e.server import Server

BOT = "SmoneyFR"


def people(server: Server, *names: str) -> list[Person]:
    return [Person(server.base_url, name, unique(name.split()[0].lower())) for name in names]


def funded_pair(server: Server, amount_minor: int = 50_00) -> tuple[Person, Person]:
    alice, bob = people(server, "Alice Martin", "Bob Durand")
    alice.member()
    bob.member()
    assert alice.top_up(amount_minor)["status"] == "succeeded"
    return alice, bob


def reply_to(person: Person, post_id: str) -> dict[str, Any]:
    """The bot's answer to one of our posts, once the outbox worker has delivered it."""
    return eventually(
        lambda: next((p for p in person.inbox() if p.get("in_reply_to") == post_id), None)
    )


def test_canonical_payment(server: Server) -> None:
    alice, bob = funded_pair(server)
    assert alice.wallet() == {
        "currency": "EUR",
        "balance_minor": 50_00,
        "available_minor": 50_00,
        "pending_out_minor": 0,
    }

    post_id = alice.post(f"@{BOT} #envoyer 5€ @{bob.handle}")
    intent = alice.pending_for(post_id)
    # The confirmation shows who will be paid before the PIN is asked.
    assert intent["payee"] == {
        "kind": "member",
        "network": "sandbox",
        "user_id": bob.sandbox_id,  # the immutable id the money follows
        "handle": bob.handle,
        "display_name": "Bob Durand",
    }
    assert (intent["amount_minor"], intent["currency"], intent["kind"]) == (5_00, "EUR", "send")
    assert alice.wallet()["available_minor"] == 45_00  # held, not yet gone
    assert alice.wallet()["balance_minor"] == 50_00

    r = alice.confirm(intent["id"])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "settled"

    assert bob.wallet()["balance_minor"] == 5_00
    assert alice.wallet()["balance_minor"] == 45_00
    assert alice.history()[0]["direction"] == "out"
    assert alice.history()[0]["amount_minor"] == 5_00
    received = bob.history()[0]
    assert (received["direction"], received["amount_minor"], received["state"]) == (
        "in",
        5_00,
        "settled",
    )
    assert received["counterparty"]["display_name"] == "Alice Martin"
    assert any("5,00" in n["text"] for n in bob.notifications())
    # Public mode: the bot answers the post for all to see, naming the payee.
    final = eventually(lambda: next((p for p in bob.inbox() if "✅" in p["text"]), None))
    assert "5,00" in final["text"]
    assert f"@{bob.handle}" in final["text"]
    assert not alice.to_confirm()


def test_wrong_pin_three_times_locks(server: Server) -> None:
    alice, bob = funded_pair(server)
    intent = alice.pending_for(alice.post(f"@{BOT} #envoyer 5€ @{bob.handle}"))
    first = alice.confirm(intent["id"], "0000")
    assert first.status_code == 403
    assert first.json()["error"]["code"] == "WRONG_PIN"
    assert "2" in first.json()["error"]["message"]  # attempts left, in French
    assert alice.confirm(intent["id"], "0001").json()["error"]["code"] == "WRONG_PIN"
    third = alice.confirm(intent["id"], "0002")
    assert (third.status_code, third.json()["error"]["code"]) == (423, "PIN_LOCKED")
    # Locked: even the right PIN is refused, and nothing moved.
    locked = alice.confirm(intent["id"], PIN)
    assert (locked.status_code, locked.json()["error"]["code"]) == (423, "PIN_LOCKED")
    assert alice.intent(intent["id"])["state"] == "awaiting_confirmation"
    assert bob.wallet()["balance_minor"] == 0


def test_cancel_releases_the_hold(server: Server) -> None:
    alice, bob = funded_pair(server)
    intent = alice.pending_for(alice.post(f"@{BOT} #envoyer 7€ @{bob.handle}"))
    assert alice.wallet()["available_minor"] == 43_00
    r = alice.http.post(f"/api/v1/me/intents/{intent['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"
    assert alice.wallet()["available_minor"] == 50_00
    again = alice.confirm(intent["id"])
    assert (again.status_code, again.json()["error"]["code"]) == (409, "INTENT_NOT_PENDING")
    assert bob.wallet()["balance_minor"] == 0


def test_deleted_post_cancels(server: Server) -> None:
    alice, bob = funded_pair(server)
    post_id = alice.post(f"@{BOT} #envoyer 6€ @{bob.handle}")
    intent = alice.pending_for(post_id)
    r = alice.http.delete(
        f"/sandbox/api/posts/{post_id}", headers={"Authorization": f"Bearer {alice.sandbox_token}"}
    )
    assert r.status_code == 204
    assert eventually(lambda: alice.intent(intent["id"])["state"] == "cancelled")
    assert alice.wallet()["available_minor"] == 50_00
    assert alice.confirm(intent["id"]).status_code == 409


def test_payee_not_member_claims_after_linking(server: Server) -> None:
    (alice,) = people(server, "Alice Martin")
    alice.member()
    alice.top_up(20_00)
    carol = Person(server.base_url, "Carol Petit", unique("carol")).join_network()
    intent = alice.pending_for(alice.post(f"@{BOT} #envoyer 8€ @{carol.handle}"))
    assert intent["payee"]["kind"] == "identity"
    r = alice.confirm(intent["id"])
    assert r.json()["state"] == "claimable"
    assert alice.wallet()["balance_minor"] == 12_00
    # Carol hears about it on the network, opens a wallet, links: the money is hers.
    invite = eventually(lambda: next((p for p in carol.inbox() if "8,00" in p["text"]), None))
    assert f"@{carol.handle}" in invite["text"]
    carol.sign_up()
    carol.link()
    assert carol.wallet()["balance_minor"] == 8_00
    assert alice.intent(intent["id"])["state"] == "claimed"


def test_renamed_handle_keeps_the_money_with_the_person(server: Server) -> None:
    alice, bob = funded_pair(server)
    new_handle = unique("bobby")
    r = bob.http.patch(
        "/sandbox/api/accounts/me",
        json={"handle": new_handle},
        headers={"Authorization": f"Bearer {bob.sandbox_token}"},
    )
    assert r.status_code == 200, r.text
    old_handle, bob.handle = bob.handle, new_handle
    # Paying the new handle reaches Bob's wallet: he is known by his immutable id.
    intent = alice.pending_for(alice.post(f"@{BOT} #envoyer 4€ @{new_handle}"))
    assert intent["payee"]["kind"] == "member"
    assert alice.confirm(intent["id"]).json()["state"] == "settled"
    assert bob.wallet()["balance_minor"] == 4_00
    # Someone new takes Bob's old handle: paying it does not reach Bob.
    Person(server.base_url, "Mallory", old_handle).join_network()
    intent = alice.pending_for(alice.post(f"@{BOT} #envoyer 3€ @{old_handle}"))
    assert intent["payee"]["kind"] == "identity"
    assert alice.confirm(intent["id"]).json()["state"] == "claimable"
    assert bob.wallet()["balance_minor"] == 4_00


def test_request_paid_by_the_person_asked(server: Server) -> None:
    alice, bob = funded_pair(server)
    bob.post(f"@{BOT} #demander 12,50€ @{alice.handle}")
    intent = alice.pending_for("")
    assert intent["kind"] == "request"
    assert intent["payee"]["handle"] == bob.handle
    assert alice.wallet()["available_minor"] == 50_00  # asking holds nothing
    assert alice.confirm(intent["id"]).json()["state"] == "settled"
    assert bob.wallet()["balance_minor"] == 12_50
    assert alice.wallet()["balance_minor"] == 37_50


def test_over_limit_is_refused_with_a_reply(server: Server) -> None:
    alice, bob = funded_pair(server, 200_00)
    post_id = alice.post(f"@{BOT} #envoyer 300€ @{bob.handle}")
    answer = reply_to(alice, post_id)
    assert "plafond" in answer["text"]
    assert alice.to_confirm() == []
    assert alice.wallet()["available_minor"] == 200_00


def test_insufficient_funds_is_refused_with_a_reply(server: Server) -> None:
    alice, bob = funded_pair(server, 10_00)
    post_id = alice.post(f"@{BOT} #envoyer 20€ @{bob.handle}")
    assert "Solde insuffisant" in reply_to(alice, post_id)["text"]
    assert alice.to_confirm() == []


def test_invalid_command_gets_one_reply_with_the_syntax(server: Server) -> None:
    alice, bob = funded_pair(server)
    post_id = alice.post(f"@{BOT} #envoyer 1,000€ @{bob.handle}")
    answer = reply_to(alice, post_id)
    assert f"@{BOT}" in answer["text"]  # shows the right syntax
    assert alice.to_confirm() == []


def test_declined_card(server: Server) -> None:
    (dave,) = people(server, "Dave Roux")
    dave.join_network().sign_up()
    topup = dave.top_up(
        20_00, card_number="4000000000000002", exp_month=12, exp_year=2034, cvc="123"
    )
    assert topup["status"] == "declined"
    assert topup["decline_code"] == "card_declined"
    assert dave.wallet()["balance_minor"] == 0
    expired = dave.top_up(
        20_00, card_number="4242424242424242", exp_month=1, exp_year=2020, cvc="123"
    )
    assert (expired["status"], expired["decline_code"]) == ("declined", "expired_card")


def test_three_d_secure_top_up(server: Server) -> None:
    (erin,) = people(server, "Erin Blanc")
    erin.join_network().sign_up()
    topup = erin.top_up(
        30_00, card_number="4000000000003220", exp_month=12, exp_year=2034, cvc="123"
    )
    assert topup["status"] == "requires_action"
    # The challenge is on this server (its address follows the port it was started on).
    assert topup["action_url"].startswith(f"{server.base_url}/sandbox/psp/3ds/")
    assert erin.wallet()["balance_minor"] == 0
    ref = topup["action_url"].rsplit("/", 1)[-1]
    r = erin.http.post(f"/sandbox/psp/3ds/{ref}/complete", json={"outcome": "approve"})
    assert r.status_code == 200, r.text
    assert erin.wallet()["balance_minor"] == 30_00
    # The processor telling us twice credits once.
    erin.http.post(f"/sandbox/psp/3ds/{ref}/complete", json={"outcome": "approve"})
    assert erin.wallet()["balance_minor"] == 30_00


def test_same_post_delivered_twice_pays_once(server: Server) -> None:
    alice, bob = funded_pair(server)
    post_id = alice.post(f"@{BOT} #envoyer 5€ @{bob.handle}")
    intent = alice.pending_for(post_id)
    # The network retries its webhook: envoi has already stored this post.
    r = alice.http.post(
        f"/sandbox/api/posts/{post_id}/redeliver",
        headers={"Authorization": f"Bearer {alice.sandbox_token}"},
    )
    assert r.status_code == 202, r.text
    assert len(alice.to_confirm()) == 1
    assert alice.confirm(intent["id"]).json()["state"] == "settled"
    alice.http.post(
        f"/sandbox/api/posts/{post_id}/redeliver",
        headers={"Authorization": f"Bearer {alice.sandbox_token}"},
    )
    assert alice.to_confirm() == []
    assert bob.wallet()["balance_minor"] == 5_00


@pytest.mark.parametrize("privacy", ["public", "discreet", "private"])
def test_privacy_modes_shape_the_replies(server: Server, privacy: str) -> None:
    alice, bob = funded_pair(server)
    assert alice.http.patch("/api/v1/me", json={"privacy": privacy}).status_code == 200
    post_id = alice.post(f"@{BOT} #envoyer 9€ @{bob.handle}")
    intent = alice.pending_for(post_id)
    assert intent["privacy"] == privacy
    assert alice.confirm(intent["id"]).json()["state"] == "settled"
    # Bob hears about it: publicly (mentioned in the reply) or by DM.
    if privacy == "discreet":
        # Bob learns the amount in the app only; the network sees no amount, no name.
        assert eventually(lambda: any("9,00" in n["text"] for n in bob.notifications()))
    else:
        heard = eventually(lambda: next((p for p in bob.inbox() if "9,00" in p["text"]), None))
        assert heard["visibility"] == ("direct" if privacy == "private" else "public")

    def public_replies() -> list[dict[str, Any]]:
        timeline = alice.http.get("/sandbox/api/timeline").json()
        return [p for p in timeline if p.get("in_reply_to") == post_id]

    if privacy == "private":
        # Never a public word: the DMs above were delivered, and the timeline has no reply.
        assert public_replies() == []
        return
    replies = eventually(lambda: [p for p in public_replies() if "✅" in p["text"]])
    if privacy == "public":
        assert "9,00" in replies[0]["text"]
        assert bob.handle in replies[0]["text"]
    else:
        assert all(
            "9,00" not in p["text"] and bob.handle not in p["text"] for p in public_replies()
        )


def test_unconfirmed_payment_expires(fast_server: Server) -> None:
    alice, bob = funded_pair(fast_server)
    intent = alice.pending_for(alice.post(f"@{BOT} #envoyer 5€ @{bob.handle}"))
    assert alice.wallet()["available_minor"] == 45_00
    # The worker closes the 4-second window by itself: the hold is voided.
    assert eventually(lambda: alice.intent(intent["id"])["state"] == "expired")
    assert alice.wallet()["available_minor"] == 50_00
    late = alice.confirm(intent["id"])
    assert (late.status_code, late.json()["error"]["code"]) == (409, "INTENT_NOT_PENDING")
    assert any("non confirmé" in n["text"] for n in alice.notifications())
    assert bob.wallet()["balance_minor"] == 0


def test_unclaimed_money_is_refunded(fast_server: Server) -> None:
    (alice,) = people(fast_server, "Alice Martin")
    alice.member()
    alice.top_up(20_00)
    carol = Person(fast_server.base_url, "Carol Petit", unique("carol")).join_network()
    intent = alice.pending_for(alice.post(f"@{BOT} #envoyer 8€ @{carol.handle}"))
    assert alice.confirm(intent["id"]).json()["state"] == "claimable"
    assert alice.wallet()["balance_minor"] == 12_00
    # Carol never opens a wallet: when the claim window ends the money comes back.
    assert eventually(lambda: alice.intent(intent["id"])["state"] == "refunded")
    assert alice.wallet()["balance_minor"] == 20_00
    # Linking afterwards finds nothing left to claim.
    carol.sign_up()
    carol.link()
    assert carol.wallet()["balance_minor"] == 0


def test_sign_out_revokes_the_token_and_errors_speak_the_callers_language(server: Server) -> None:
    # An accented name, an ASCII address: e-mails keep an ASCII local part (issue 6, fix 8).
    zoe = Person(server.base_url, "Zoé Leroy", unique("zoe"))
    zoe.sign_up()
    assert zoe.http.get("/api/v1/me").status_code == 200
    assert zoe.http.delete("/api/v1/auth/token").status_code == 204
    gone = zoe.http.get("/api/v1/me")
    assert gone.status_code == 401
    assert gone.json()["error"]["code"] == "UNAUTHENTICATED"
    english = zoe.http.get("/api/v1/me", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert english.json()["error"]["message"] == "Please sign in to continue."
    french = zoe.http.get("/api/v1/me", headers={"Accept-Language": "fr-FR"})
    assert french.json()["error"]["message"] == "Connectez-vous pour continuer."


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/members", {"email": "x"}),
        ("post", "/api/v1/members", {"email": 5, "password": None}),
        ("post", "/api/v1/auth/token", ["not", "an", "object"]),
        ("put", "/api/v1/me/pin", {"pin": "12345678901234567890123"}),
        ("post", "/api/v1/me/topups", {"amount_minor": 5.5}),
        ("post", "/api/v1/me/intents/nope/confirm", {"pin": "1234"}),
        ("get", "/api/v1/nowhere", None),
    ],
)
def test_bad_input_gets_a_clear_error_never_a_500(
    server: Server, method: str, path: str, body: object
) -> None:
    (yann,) = people(server, "Yann Morel")
    yann.sign_up()
    r = yann.http.request(method, path, json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["code"]
    assert r.json()["error"]["message"]
