"""X beyond the shared contract: the webhook's checks, X's costs, its rate limits and lost
answers, against the X stand-in over real HTTP (``-m x``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from envoi.adapters.db.tables import outbox
from envoi.adapters.networks.x.signing import body_signature, crc_response
from tests.integration.x_harness import XHarness
from tests.networks.contract import PIN, Person, pending
from tests.networks.x_standin import Fault, XWorld

pytestmark = pytest.mark.x


@pytest.fixture
def x(x_standin: XWorld, engine: object, database_url: str) -> Iterator[XHarness]:
    built = XHarness(x_standin, database_url)
    yield built
    built.close()


def _a_command(x: XHarness, amount: str = "5€") -> tuple[Person, Person]:
    alice = x.person("alice", funds=20_00)
    bob = x.person("bob")
    x.mention(alice, f"{x.bot_at} #envoyer {amount} {bob.at}")
    return alice, bob


def _spent_since(x: XHarness, before: dict[str, int]) -> dict[str, int]:
    after = x.standin.billed()
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def _bot_texts(x: XHarness) -> list[str]:
    return [t["text"] for t in x.standin.bot_tweets()]


# --- the webhook --------------------------------------------------------------------


def test_the_crc_check_is_answered_with_the_consumer_secret(x: XHarness) -> None:
    answer = x.web.get("/webhooks/x", params={"crc_token": "Y3JjLXRva2Vu"})
    assert answer.status_code == 200
    assert answer.json() == crc_response(x.standin.state.keys.consumer_secret, "Y3JjLXRva2Vu")
    assert x.web.get("/webhooks/x").status_code == 422  # no token: nothing to sign


def test_a_forged_or_altered_webhook_is_refused_and_does_nothing(x: XHarness) -> None:
    alice, _bob = _a_command(x)
    body, signature = x.standin.take_webhooks()[-1]  # the command (after the linking DMs)
    altered = body.replace("5€".encode(), "50€".encode())
    assert altered != body
    forged = body_signature("not the consumer secret", body)
    for content, header in [
        (body, forged),  # signed by someone else
        (altered, signature),  # the amount changed on the way
        (body, None),  # no signature
        (body, signature.upper()),
    ]:
        headers = {"x-twitter-webhooks-signature": header} if header else {}
        assert x.web.post("/webhooks/x", content=content, headers=headers).status_code == 403
    assert pending(x.app, alice) == []
    # The genuine delivery, then the same one replayed an hour later: one post, one reply.
    for _ in range(3):
        answer = x.web.post(
            "/webhooks/x", content=body, headers={"x-twitter-webhooks-signature": signature}
        )
        assert answer.status_code == 200
    assert len(pending(x.app, alice)) == 1
    x.app.delivery.deliver_due()
    assert len(x.standin.bot_tweets()) == 1


def test_a_payload_for_another_account_is_ignored(x: XHarness) -> None:
    alice, _bob = _a_command(x)
    body, _ = x.standin.take_webhooks()[-1]
    payload = json.loads(body)
    payload["for_user_id"] = "12345"
    other = json.dumps(payload).encode()
    secret = x.standin.state.keys.consumer_secret
    answer = x.web.post(
        "/webhooks/x",
        content=other,
        headers={"x-twitter-webhooks-signature": body_signature(secret, other)},
    )
    assert answer.status_code == 200
    assert pending(x.app, alice) == []


# --- the seed's story -----------------------------------------------------------------


def test_seed_story_post_confirm_with_pin_over_the_api_bob_is_told(x: XHarness) -> None:
    alice = x.person("alice", funds=20_00)
    bob = x.person("bob")
    x.mention(alice, "@SmoneyFR #envoyer 5€ @bob")
    x.deliver_webhooks()
    (intent_id,) = pending(x.app, alice)
    token = x.web.post(
        "/api/v1/auth/token",
        json={"email": "alice-x@example.org", "password": "long enough password"},
    ).json()["access_token"]
    shown = x.web.get(
        f"/api/v1/me/intents/{intent_id}", headers={"authorization": f"Bearer {token}"}
    ).json()
    assert shown["amount_minor"] == 5_00
    confirmed = x.web.post(
        f"/api/v1/me/intents/{intent_id}/confirm",
        json={"pin": PIN, "amount_minor": 5_00, "payee": "bob"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert any("5,00" in text for text in x.received(bob))
    assert bob.member is not None
    assert x.app.wallet.balance(bob.member.id).posted == 5_00
    # One public answer when asked to confirm, one when settled: no URL in either.
    bill = x.standin.billed()
    assert bill.get("reply_url", 0) == 0
    assert bill.get("reply", 0) == len(x.standin.bot_tweets()) == 2


def test_public_replies_never_carry_a_url_even_when_the_message_has_one(x: XHarness) -> None:
    alice = x.person("alice", funds=20_00)
    carol = x.person("carol", member=False)  # no wallet: "open a wallet to receive it: URL"
    stranger = x.person("stranger", member=False)  # no wallet to pay from: "link: URL"
    x.mention(alice, f"{x.bot_at} #envoyer 4€ {carol.at}")
    x.mention(stranger, f"{x.bot_at} #envoyer 4€ {carol.at}")
    x.deliver_webhooks()
    (intent_id,) = pending(x.app, alice)
    assert alice.member is not None
    x.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    x.app.delivery.deliver_due()
    texts = _bot_texts(x)
    assert len(texts) >= 3
    assert not [t for t in texts if "http" in t or "127.0.0.1" in t], texts
    assert x.standin.billed().get("reply_url", 0) == 0


# --- cost ------------------------------------------------------------------------------


def test_a_flood_costs_nothing(x: XHarness) -> None:
    alice = x.person("alice", funds=20_00)
    bob = x.person("bob")
    before = x.standin.billed()
    x.mention(alice, f"{x.bot_at} #envoyer 5€ {bob.at}")
    for n in range(30):
        x.mention(bob, f"{x.bot_at} merci pour tout {n}")  # chatter, not a command
        x.mention(alice, f"#envoyer {n + 1}€ {bob.at} sans le bot")  # no bot: not for us
    x.bot_posts(f"{x.bot_at} #envoyer 1€ {bob.at}")
    deliveries = x.standin.take_webhooks()
    secret = x.standin.state.keys.consumer_secret
    for _ in range(5):  # and X retrying every delivery
        for body, signature in deliveries:
            assert body_signature(secret, body) == signature
            x.web.post(
                "/webhooks/x", content=body, headers={"x-twitter-webhooks-signature": signature}
            )
    x.app.delivery.deliver_due()
    # The one command got its one answer; everything else cost nothing.
    assert len(pending(x.app, alice)) == 1
    assert _spent_since(x, before) == {"reply": 1}


def test_the_daily_budget_stops_outgoing_calls_and_alerts_once(
    x_standin: XWorld, engine: object, database_url: str
) -> None:
    x = XHarness(x_standin, database_url)
    try:
        alice = x.person("alice", funds=20_00)
        bob = x.person("bob")
        # What linking two people cost, then room for two replies ($0.015 each), not three.
        budget = x.app.network_status["x"]()["today_spend_usd"]
        x.x_overrides["daily_budget_usd"] = Decimal(str(budget)) + Decimal("0.035")
        x.restart()
        with capture_logs() as logs:
            for amount in ("1€", "2€", "3€"):
                x.mention(alice, f"{x.bot_at} #envoyer {amount} {bob.at}")
            x.deliver_webhooks()
            assert x.app.delivery.deliver_due() == 2
            assert x.app.delivery.deliver_due() == 0
        alerts = [e for e in logs if e["event"] == "x.budget_reached"]
        assert len(alerts) == 1
        assert alerts[0]["log_level"] == "error"
        spent = x.standin.billed_micro_usd()
        assert spent == (Decimal(str(budget)) + Decimal("0.030")) * 1_000_000
        waiting = _undelivered(x)
        assert waiting, "nothing was held back"
        tomorrow = datetime.combine(
            x.clock.now().date() + timedelta(days=1), datetime.min.time(), UTC
        )
        assert all(row.next_attempt_at.replace(tzinfo=UTC) >= tomorrow for row in waiting)
        assert all(row.failed_at is None for row in waiting)
        status = x.app.network_status["x"]()
        assert status["today_spend_usd"] == f"{spent / 1_000_000:.3f}"
        assert Decimal(str(status["daily_budget_usd"])) == Decimal(str(budget)) + Decimal("0.035")
        # The next UTC day the held messages go out, none lost.
        x.clock.current = tomorrow + timedelta(minutes=1)
        x.app.delivery.deliver_due()
        assert _undelivered(x) == []
    finally:
        x.close()


def _undelivered(x: XHarness) -> list[object]:
    with x.app.engine.connect() as conn:
        return list(
            conn.execute(
                select(outbox.c.id, outbox.c.next_attempt_at, outbox.c.failed_at).where(
                    outbox.c.delivered_at.is_(None), outbox.c.network == "x"
                )
            )
        )


# --- X failing --------------------------------------------------------------------------


def test_a_429_with_a_near_reset_is_waited_for_and_sent_once(x: XHarness) -> None:
    _a_command(x)
    x.deliver_webhooks()
    x.standin.inject(Fault("POST", "/2/tweets", times=1, kind="429", reset_in_s=1))
    assert x.app.delivery.deliver_due() == 1
    assert len(x.standin.bot_tweets()) == 1
    assert x.standin.billed()["reply"] == 1  # the 429 was not billed


def test_a_429_with_a_far_reset_waits_without_losing_the_reply(x: XHarness) -> None:
    _a_command(x)
    x.deliver_webhooks()
    x.standin.inject(Fault("POST", "/2/tweets", times=1, kind="429", reset_in_s=900))
    assert x.app.delivery.deliver_due() == 0
    (row,) = _undelivered(x)
    assert row.failed_at is None  # type: ignore[attr-defined]
    with x.app.engine.connect() as conn:
        attempts = conn.execute(
            select(outbox.c.attempts).where(outbox.c.delivered_at.is_(None))
        ).scalar()
    assert attempts == 0  # waiting on X is not a failed attempt
    x.clock.current = datetime.now(UTC) + timedelta(seconds=901)
    assert x.app.delivery.deliver_due() == 1
    assert len(x.standin.bot_tweets()) == 1


def test_a_reply_whose_answer_was_lost_is_found_not_sent_twice(x: XHarness) -> None:
    _a_command(x)
    x.deliver_webhooks()
    # X posts the reply, then the answer never reaches envoi (a 503 after the fact).
    x.standin.inject(Fault("POST", "/2/tweets", times=1, kind="lose_response"))
    assert x.app.delivery.deliver_due() == 0
    assert len(x.standin.bot_tweets()) == 1
    x.clock.advance(minutes=5)
    assert x.app.delivery.deliver_due() == 1
    assert len(x.standin.bot_tweets()) == 1  # found among the bot's posts, not re-sent
    with x.app.engine.connect() as conn:
        remote = conn.execute(select(outbox.c.remote_id).where(outbox.c.kind == "reply")).scalar()
    assert remote == x.standin.bot_tweets()[0]["id"]


def test_a_dm_whose_answer_was_lost_is_found_not_sent_twice(x: XHarness) -> None:
    alice = x.person("alice", funds=20_00)
    bob = x.person("bob")
    x.dm(alice, f"#envoyer 2€ {bob.at}")
    x.deliver_webhooks()
    bot = x.standin.state.bot_id
    before = len([d for d in x.standin.state.dms if d["sender_id"] == bot])
    x.standin.inject(Fault("POST", "/2/dm_conversations", times=1, kind="lose_response"))
    x.app.delivery.deliver_due()
    x.clock.advance(minutes=5)
    x.app.delivery.deliver_due()
    sent = [d for d in x.standin.state.dms if d["sender_id"] == bot]
    assert len(sent) == before + 1
    assert any("2,00" in d["text"] for d in sent)


def test_the_catch_up_poll_reads_what_the_webhook_missed_once(x: XHarness) -> None:
    alice, _bob = _a_command(x)
    x.standin.take_webhooks()  # envoi was down: X's delivery never arrived
    x.app.ingests["x"].step()
    assert len(pending(x.app, alice)) == 1
    reads = x.standin.billed().get("post_read", 0)
    assert reads == 1
    x.app.ingests["x"].step()  # nothing new: nothing read, nothing billed
    assert x.standin.billed().get("post_read", 0) == reads


def test_networks_status_shows_the_months_estimated_spend(x: XHarness, database_url: str) -> None:
    from tests.integration.test_new_user import run_cli

    x.clock.current = datetime.now(UTC)  # the CLI runs on the real clock: the same month
    _a_command(x)
    x.deliver_webhooks()
    x.app.delivery.deliver_due()
    keys = x.standin.state.keys
    shown = run_cli(
        database_url,
        "networks",
        "status",
        ENVOI_NETWORKS="x",
        ENVOI_X__API_BASE_URL=x.standin.url,
        ENVOI_X__CONSUMER_KEY=keys.consumer_key,
        ENVOI_X__CONSUMER_SECRET=keys.consumer_secret,
        ENVOI_X__ACCESS_TOKEN=keys.access_token,
        ENVOI_X__ACCESS_TOKEN_SECRET=keys.access_token_secret,
        ENVOI_X__BOT_USER_ID=x.standin.state.bot_id,
    )
    line = next(line for line in shown.splitlines() if line.startswith("x: "))
    status = json.loads(line.removeprefix("x: "))
    assert status["cursor"] is not None
    assert status["month_spend_usd"] == f"{x.standin.billed_micro_usd() / 1_000_000:.3f}"
    assert status["by_kind"]["reply"] == {"calls": 1, "usd": "0.015"}
    assert status["daily_budget_usd"] == "20.000"


# --- linking by OAuth 2.0 Authorization Code + PKCE ---------------------------------------


def _consent(x: XHarness, authorization_url: str, user_id: str) -> tuple[str, str, str]:
    """The person, signed in on X, says yes: X sends the browser back with state and code."""
    import httpx

    assert authorization_url.startswith(f"{x.standin.url}/i/oauth2/authorize?")
    with httpx.Client(cookies={"standin_user": user_id}) as browser:
        answer = browser.get(authorization_url)
    assert answer.status_code in (302, 307), answer.text
    from urllib.parse import parse_qs, urlsplit

    back = urlsplit(answer.headers["location"])
    query = parse_qs(back.query)
    return back.path, query["state"][0], query["code"][0]


def test_linking_by_oauth_pkce_claims_what_was_waiting(x: XHarness) -> None:
    alice = x.person("alice", funds=20_00)
    bob = x.person("bob", member=False)
    x.mention(alice, f"{x.bot_at} #envoyer 4€ {bob.at}")
    x.deliver_webhooks()
    (intent_id,) = pending(x.app, alice)
    assert alice.member is not None
    x.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    # Bob opens a wallet over the API and links his X account on X's consent page.
    x.web.post(
        "/api/v1/members",
        json={
            "email": "bob-oauth@example.org",
            "password": "long enough password",
            "display_name": "Bob",
            "locale": "fr",
        },
    )
    token = x.web.post(
        "/api/v1/auth/token",
        json={"email": "bob-oauth@example.org", "password": "long enough password"},
    ).json()["access_token"]
    auth = {"authorization": f"Bearer {token}"}
    started = x.web.post("/api/v1/me/identities/oauth", json={"network": "x"}, headers=auth)
    assert started.status_code == 201, started.text
    url = started.json()["authorization_url"]
    assert "code_challenge_method=S256" in url
    assert "dm.read" in url
    path, state, code = _consent(x, url, bob.user_id)
    assert path == "/wallet/link/x/callback"
    # A code is worth nothing without the verifier envoi kept, nor a state for another
    # member; the right pair links Bob by his immutable id.
    linked = x.web.post(
        "/api/v1/me/identities/oauth/callback",
        json={"network": "x", "state": state, "code": code},
        headers=auth,
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["user_id"] == bob.user_id
    bob_id = x.web.get("/api/v1/me", headers=auth).json()["id"]
    assert x.app.wallet.balance(bob_id).posted == 4_00
    # The state is used: the same callback again links nothing more.
    again = x.web.post(
        "/api/v1/me/identities/oauth/callback",
        json={"network": "x", "state": state, "code": code},
        headers=auth,
    )
    assert again.status_code >= 400


def test_an_oauth_state_from_another_member_or_a_wrong_verifier_links_nobody(
    x: XHarness,
) -> None:
    mallory = x.person("mallory")
    victim = x.person("victim")
    assert mallory.member is not None
    assert victim.member is not None
    # Mallory starts a flow and gets a victim to finish it: the state is hers, not theirs.
    url = x.app.oauth_links.start(mallory.member.id, "x")
    _path, state, code = _consent(x, url, mallory.user_id)
    from envoi.domain.errors import EnvoiError

    with pytest.raises(EnvoiError):
        x.app.oauth_links.finish(victim.member.id, "x", state, code)
    # A code exchanged with another verifier is refused by X (PKCE).
    url = x.app.oauth_links.start(victim.member.id, "x")
    _path, state, code = _consent(x, url, victim.user_id)
    gateway = x.app.ctx.gateways["x"]
    with pytest.raises(EnvoiError):
        gateway.exchange_code(  # type: ignore[attr-defined]
            code, code_verifier="not-the-verifier" * 3, redirect_uri="http://127.0.0.1:8000/x"
        )


def test_the_wallet_links_an_x_account_on_xs_consent_page(x: XHarness) -> None:
    import re

    bob = x.person("bob", member=False)
    member = x.app.members.register(
        email="bob-wallet@example.org",
        password="long enough password",
        display_name="Bob",
        locale="fr",
    )
    page = x.web.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    x.web.post(
        "/login",
        data={"csrf": csrf.group(1), "email": member.email, "password": "long enough password"},
    )
    link_page = x.web.get("/wallet/link")
    assert 'href="/wallet/link/x/oauth"' in link_page.text
    off = x.web.get("/wallet/link/x/oauth", follow_redirects=False)
    assert off.status_code == 303
    path, state, code = _consent(x, off.headers["location"], bob.user_id)
    back = x.web.get(path, params={"state": state, "code": code}, follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"].endswith("/wallet/link?done=bob")
    (identity,) = x.app.members.identities(member.id)
    assert identity.network_user_id == bob.user_id
