"""Mastodon beyond the shared contract: the seed's story over the API, replies that keep
the command's visibility, a payee on another instance, rate limits and retried sends.
Against the Mastodon stand-in over real HTTP (no Mastodon server can run here)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from envoi.adapters.networks.mastodon.gateway import MastodonGateway
from envoi.web.app import create_app
from tests.networks.contract import PIN, Person
from tests.networks.mastodon_harness import MastodonHarness, standin_account

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.mastodon


@pytest.fixture
def harness(engine: Engine, database_url: str, mastodon_url: str) -> Iterator[MastodonHarness]:
    built = MastodonHarness(mastodon_url, database_url)
    yield built
    built.close()


def _bot_statuses(harness: MastodonHarness, person: Person) -> list[Any]:
    return harness._to_bot_mentions(person)


def _confirm_over_api(harness: MastodonHarness, who: Person) -> None:
    with TestClient(create_app(harness.app, run_workers=False)) as client:
        token = client.post(
            "/api/v1/auth/token",
            json={"email": f"{who.name}@example.org", "password": "long enough password"},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        (intent,) = client.get("/api/v1/me/intents", headers=auth).json()
        done = client.post(
            f"/api/v1/me/intents/{intent['id']}/confirm", json={"pin": PIN}, headers=auth
        )
        assert done.status_code == 200, done.text


@pytest.mark.parametrize("how", ["mention", "direct"])
def test_the_seed_story(harness: MastodonHarness, how: str) -> None:
    alice = harness.person("alice", funds=20_00)
    bob = harness.person("bob")
    text = f"#envoyer 5€ {bob.at}"
    if how == "mention":
        post_id = harness.mention(alice, f"{harness.bot_at} {text}")
    else:
        post_id = harness.dm(alice, text)
    harness.ingest()
    harness.app.delivery.deliver_due()
    (asked,) = [s for s in _bot_statuses(harness, alice) if "confirm" in harness._text(s)]
    if how == "mention":
        assert str(asked.in_reply_to_id) == post_id  # threaded under the command
        assert asked.visibility == "public"
    else:  # a private command is answered by a direct status (envoi's DM), never publicly
        assert asked.visibility == "direct"
    _confirm_over_api(harness, alice)
    told = [s for s in _bot_statuses(harness, bob) if "5,00" in harness._text(s)]
    assert told
    for status in told:  # the payee is told as privately as the command was made
        assert status.visibility == ("public" if how == "mention" else "direct")
    assert harness.app.wallet.balance(bob.member.id).posted == 5_00  # type: ignore[union-attr]


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private", "direct"])
def test_a_reply_is_never_more_public_than_the_command(
    harness: MastodonHarness, visibility: str
) -> None:
    alice = harness.person("alice", funds=20_00)
    harness.person("bob")
    status = alice.secret.status_post(  # type: ignore[attr-defined]
        f"{harness.bot_at} #envoyer @bob", visibility=visibility
    )
    harness.ingest()
    # No amount: one refusal (the newest), threaded under a public or followers-only
    # command; a direct one is answered by a direct status (envoi's DM).
    answer = _bot_statuses(harness, alice)[0]
    assert answer.visibility == visibility
    if visibility != "direct":
        assert str(answer.in_reply_to_id) == str(status.id)
    assert "alice" in [m.acct for m in answer.mentions]


def test_a_namesake_on_another_instance_is_the_payee_written(harness: MastodonHarness) -> None:
    alice = harness.person("alice", funds=20_00)
    harness.person("bob")  # bob of the bot's instance
    remote, _ = standin_account(harness.url, "bob", domain="piaille.fr")
    harness.mention(alice, f"{harness.bot_at} #envoyer 2€ @bob@piaille.fr")
    harness.ingest()
    assert alice.member is not None
    (intent,) = harness.app.wallet.to_confirm(alice.member.id)
    assert intent.payee.network_user_id == remote["id"]
    assert intent.payee.handle == "bob@piaille.fr"


def test_rate_limited_replies_wait_and_go_out_once(harness: MastodonHarness) -> None:
    alice = harness.person("alice", funds=20_00)
    harness.person("bob")
    harness.app.delivery.deliver_due()  # the link confirmations
    harness.mention(alice, f"{harness.bot_at} #envoyer 5€ @bob")
    harness.ingest()
    before = httpx.get(f"{harness.url}/_standin/stats").json()["posts_seen"]
    httpx.post(f"{harness.url}/_standin/ratelimit", json={"posts": 2, "reset_s": 0.5})
    assert harness.app.delivery.deliver_due() == 1
    after = httpx.get(f"{harness.url}/_standin/stats").json()["posts_seen"]
    assert after - before == 3  # two 429s, then the reply
    asked = [s for s in _bot_statuses(harness, alice) if s.in_reply_to_id is not None]
    assert len(asked) == 1


def test_a_retried_send_with_the_same_key_is_one_status(harness: MastodonHarness) -> None:
    alice = harness.person("alice")
    gateway = harness.app.ctx.gateway("mastodon")
    assert isinstance(gateway, MastodonGateway)
    first = gateway.direct_message(alice.user_id, "Bonjour", idempotency_key="envoi-k1")
    again = gateway.direct_message(alice.user_id, "Bonjour", idempotency_key="envoi-k1")
    other = gateway.direct_message(alice.user_id, "Bonjour", idempotency_key="envoi-k2")
    assert first == again != other
    assert len(harness.dms(alice)) == 2 + 1  # the link confirmation, then the two keys
