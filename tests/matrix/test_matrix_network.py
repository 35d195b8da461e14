"""The network contract and the seed's story on a real Synapse homeserver."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)
from sqlalchemy import Engine, select

from envoi.adapters.db.tables import inbound_posts
from envoi.adapters.networks.matrix.reader import TIMELINE_LIMIT
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import IntentState
from envoi.web.app import create_app
from tests.matrix.harness import MatrixHarness
from tests.networks.contract import CARD, PIN, NetworkContract, Person, balance, pending
from tests.servers.synapse import Synapse

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the httpx it finds works the same.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def harness(synapse: Synapse, database_url: str, engine: object) -> Iterator[MatrixHarness]:
    del engine  # requested so the tables are emptied (and the ledger checked) afterwards
    built = MatrixHarness(synapse, database_url)
    yield built
    built.close()


class TestMatrixContract(NetworkContract):
    pass


@pytest.fixture
def api(harness: MatrixHarness) -> Iterator[TestClient]:
    with TestClient(create_app(harness.app, run_workers=False)) as client:
        yield client


def _token(api: TestClient, person: Person) -> dict[str, str]:
    assert person.member is not None
    answer = api.post(
        "/api/v1/auth/token",
        json={"email": person.member.email, "password": "long enough password"},
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _confirm_over_api(api: TestClient, payer: Person) -> dict[str, Any]:
    auth = _token(api, payer)
    (intent,) = api.get("/api/v1/me/intents?state=awaiting_confirmation", headers=auth).json()
    assert intent["payee"]["network"] == "matrix"
    confirmed = api.post(
        f"/api/v1/me/intents/{intent['id']}/confirm", json={"pin": PIN}, headers=auth
    )
    assert confirmed.status_code == 200, confirmed.text
    found: dict[str, Any] = confirmed.json()
    return found


def test_seed_story_in_a_room(harness: MatrixHarness, api: TestClient) -> None:
    """Linked by code, topped up, '#envoyer 5€ @bob:localhost', PIN over the API."""
    alice = harness.person("alice", funds=20_00)
    bob = harness.person("bob")
    harness.mention(alice, f"{harness.bot_at} #envoyer 5€ {bob.at}")
    harness.ingest()
    confirmed = _confirm_over_api(api, alice)
    assert confirmed["state"] == "settled"
    assert confirmed["payee"]["user_id"] == bob.user_id
    # Bob is told on Matrix: a notice in the room that mentions him with a pill.
    harness.app.delivery.deliver_due()
    told = [
        content
        for room, _, content in harness.client(bob).messages_from(harness.bot_at)
        if room == harness.room and bob.user_id in content["m.mentions"]["user_ids"]
    ]
    assert told, "no notice mentioning Bob"
    assert any("5,00" in c["body"] for c in told)
    assert all(c["msgtype"] == "m.notice" and "m.in_reply_to" in c["m.relates_to"] for c in told)
    assert any(f"https://matrix.to/#/{bob.user_id}" in c["formatted_body"] for c in told)
    (entry,) = api.get("/api/v1/me/history", headers=_token(api, bob)).json()
    assert (entry["direction"], entry["amount_minor"]) == ("in", 5_00)


def test_seed_story_by_dm(harness: MatrixHarness, api: TestClient) -> None:
    alice = harness.person("alice", funds=20_00)
    bob = harness.person("bob")
    harness.dm(alice, f"#envoyer 5€ {bob.at}")
    harness.ingest()
    confirmed = _confirm_over_api(api, alice)
    assert confirmed["privacy"] == "private"
    assert any("5,00" in text for text in harness.dms(bob))
    # Private: nothing about it in the shared room.
    assert not [
        c
        for room, _, c in harness.client(bob).messages_from(harness.bot_at)
        if room == harness.room
    ]
    (entry,) = api.get("/api/v1/me/history", headers=_token(api, bob)).json()
    assert entry["amount_minor"] == 5_00


def test_a_payee_without_a_wallet_claims_after_linking(
    harness: MatrixHarness, api: TestClient
) -> None:
    alice = harness.person("alice", funds=20_00)
    carol = harness.person("carol", member=False)
    harness.mention(alice, f"{harness.bot_at} #envoyer 5€ {carol.at}")
    harness.ingest()
    assert _confirm_over_api(api, alice)["state"] == "claimable"
    created = api.post(
        "/api/v1/members",
        json={"email": "carol@example.org", "password": "long enough", "display_name": "Carol"},
    )
    token = api.post(
        "/api/v1/auth/token", json={"email": "carol@example.org", "password": "long enough"}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    challenge = api.post(
        "/api/v1/me/identities/challenges",
        json={"network": "matrix", "handle": carol.at},
        headers=auth,
    )
    assert challenge.status_code == 201, challenge.text
    assert harness.bot_at in challenge.json()["instructions"]
    harness.dm(carol, challenge.json()["code"])
    harness.ingest()
    assert created.status_code == 201
    assert api.get("/api/v1/me/wallet", headers=auth).json()["balance_minor"] == 5_00
    assert any("relié" in text for text in harness.dms(carol))


def test_a_pill_shown_as_a_display_name_names_the_payee(harness: MatrixHarness) -> None:
    alice = harness.person("alice", funds=20_00)
    bob = harness.person("bob")
    # Element: the body shows display names, the ids are in m.mentions.
    harness.mention(alice, "Envoi: #envoyer 2€ Bob", mentions=[harness.bot_at, bob.user_id])
    harness.ingest()
    (intent_id,) = pending(harness.app, alice)
    assert alice.member is not None
    intent = harness.app.wallet.intent(alice.member.id, intent_id)
    assert intent is not None
    assert intent.payee.network_user_id == bob.user_id


def test_edits_never_move_money(harness: MatrixHarness) -> None:
    alice = harness.person("alice", funds=50_00)
    bob = harness.person("bob")
    post_id = harness.mention(alice, f"{harness.bot_at} #envoyer 5€ {bob.at}")
    chat = harness.mention(alice, "bonjour")
    for target, new_text in ((post_id, "#envoyer 40€"), (chat, f"{harness.bot_at} #envoyer 9€")):
        harness.client(alice).send(
            harness.room,
            {
                "msgtype": "m.text",
                "body": f"* {new_text} {bob.at}",
                "m.new_content": {"msgtype": "m.text", "body": f"{new_text} {bob.at}"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": target.split("|")[1]},
                "m.mentions": {"user_ids": [harness.bot_at, bob.user_id]},
            },
        )
    harness.ingest()
    (intent_id,) = pending(harness.app, alice)
    assert alice.member is not None
    intent = harness.app.wallet.intent(alice.member.id, intent_id)
    assert intent is not None
    assert intent.amount.minor == 5_00
    assert balance(harness.app, bob) == 0
    assert intent.state is IntentState.AWAITING_CONFIRMATION


def test_end_to_end_encrypted_dm(
    synapse: Synapse, database_url: str, engine: object, tmp_path: Path
) -> None:
    """Alice's client encrypts (Megolm, vodozemac); the bot decrypts her code and her
    command, and its answers reach her encrypted and readable."""
    del engine
    harness = MatrixHarness(synapse, database_url, store_path=str(tmp_path / "bot-keys"))
    loop = asyncio.new_event_loop()
    account = synapse.register(f"alice{harness.tag}")
    alice_nio = AsyncClient(
        synapse.url,
        account["user_id"],
        device_id=account["device_id"],
        store_path=str(tmp_path / "alice-keys"),
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    (tmp_path / "alice-keys").mkdir()
    try:
        bob = harness.person("bob")
        member = harness.app.members.register(
            email="alice.e2e@example.org",
            password="long enough password",
            display_name="Alice",
            locale="fr",
        )
        harness.app.members.set_pin(member.id, PIN)
        harness.app.funding.top_up(member.id, 20_00, CARD, request_key="e2e-alice")

        async def open_dm() -> str:
            alice_nio.restore_login(
                account["user_id"], account["device_id"], account["access_token"]
            )
            await alice_nio.keys_upload()
            created = await alice_nio.room_create(
                is_direct=True,
                invite=[harness.bot_at],
                preset=RoomPreset.trusted_private_chat,
                initial_state=[
                    {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
                ],
            )
            assert isinstance(created, RoomCreateResponse), created
            return str(created.room_id)

        async def say(room_id: str, text: str) -> None:
            await alice_nio.sync(timeout=0, full_state=True)
            await alice_nio.keys_query()
            sent = await alice_nio.room_send(
                room_id,
                "m.room.message",
                {"msgtype": "m.text", "body": text},
                ignore_unverified_devices=True,
            )
            assert isinstance(sent, RoomSendResponse), sent

        async def read(room_id: str) -> list[tuple[bool, str]]:
            synced = await alice_nio.sync(timeout=0, full_state=True)
            assert isinstance(synced, SyncResponse)
            return [
                (event.decrypted, event.body)
                for event in synced.rooms.join[room_id].timeline.events
                if isinstance(event, RoomMessageNotice) and event.sender == harness.bot_at
            ]

        room_id = loop.run_until_complete(open_dm())
        harness.ingest()  # the bot accepts the invitation
        code = harness.app.linking.start(member.id, "matrix", account["user_id"]).code
        loop.run_until_complete(say(room_id, code))
        harness.ingest()
        assert [i.network_user_id for i in harness.app.members.identities(member.id)] == [
            account["user_id"]
        ]
        loop.run_until_complete(say(room_id, f"#envoyer 5€ {bob.at}"))
        harness.ingest()
        (intent_id,) = harness.app.wallet.to_confirm(member.id)
        assert intent_id.privacy.value == "private"
        with engine_of(harness).connect() as conn:
            stored = conn.execute(
                select(inbound_posts.c.text).where(inbound_posts.c.intent_id == intent_id.id)
            ).scalar()
        assert stored == f"#envoyer 5€ {bob.at}"  # decrypted by the bot
        harness.app.lifecycle.confirm(member.id, intent_id.id, PIN)
        harness.app.delivery.deliver_due()
        answers = loop.run_until_complete(read(room_id))
        assert answers, "no answer from the bot in the encrypted DM"
        assert all(decrypted for decrypted, _ in answers), answers
        assert any("5,00" in body for _, body in answers), answers
    finally:
        loop.run_until_complete(alice_nio.close())
        loop.close()
        harness.close()


def engine_of(harness: MatrixHarness) -> Engine:
    return harness.app.engine


def test_matrix_openid_proves_ownership(harness: MatrixHarness) -> None:
    """The network's own proof: an OpenID token from the member's homeserver."""
    dave = harness.person("dave", member=False)
    member = harness.app.members.register(
        email="dave@example.org", password="long enough password", display_name="Dave", locale="en"
    )
    token = harness.client(dave).call(
        "POST", f"/user/{quote(dave.user_id)}/openid/request_token", {}
    )
    identity = harness.app.members.link_identity(member.id, "matrix", json.dumps(token))
    assert identity.network_user_id == dave.user_id
    forged = {**token, "access_token": "not-a-token"}
    with pytest.raises(EnvoiError) as refused:
        harness.app.members.link_identity(member.id, "matrix", json.dumps(forged))
    assert refused.value.code is ErrorCode.INVALID_NETWORK_TOKEN


def test_a_sync_with_more_events_than_a_timeline_holds_loses_none(harness: MatrixHarness) -> None:
    """150 messages between two reads: /sync answers with the last 100 (``limited``); the
    reader pages back to its cursor, so the command written first is read too."""
    alice = harness.person("alice", funds=20_00)
    bob = harness.person("bob", funds=20_00)
    harness.mention(alice, f"{harness.bot_at} #envoyer 2€ {bob.at}")
    for n in range(TIMELINE_LIMIT + 50):
        harness.client(bob).send(harness.room, {"msgtype": "m.text", "body": f"bavardage {n}"})
    harness.mention(bob, f"{harness.bot_at} #envoyer 3€ {alice.at}")
    ingest = harness.app.ingests["matrix"]
    ingest.step()  # one read, one cursor move: it must hold everything since the last
    assert len(pending(harness.app, alice)) == 1
    assert len(pending(harness.app, bob)) == 1
    with engine_of(harness).connect() as conn:
        stored = conn.execute(
            select(inbound_posts.c.post_id).where(inbound_posts.c.network == "matrix")
        ).all()
    assert len(stored) >= TIMELINE_LIMIT + 50 + 2  # the chatter is stored too (ignored)


def _reply(harness: MatrixHarness, author: Person, to: str, text: str, **extra: Any) -> str:
    """A reply as Element sends it: ``m.in_reply_to``, and the author of the message
    replied to added to ``m.mentions`` (the spec asks clients to)."""
    content = {
        "msgtype": "m.text",
        "body": text,
        "m.relates_to": {"m.in_reply_to": {"event_id": to.split("|")[1]}},
        **extra,
    }
    return harness.client(author).send(harness.room, content)


def test_a_reply_pays_who_it_names_not_who_it_answers(harness: MatrixHarness) -> None:
    alice = harness.person("alice", funds=20_00)
    bob = harness.person("bob")
    carol = harness.person("carol")
    asked = harness.mention(bob, "Qui paie le café de Carol ?", mentions=[])
    _reply(
        harness,
        alice,
        asked,
        f"{harness.bot_at} #envoyer 2€ {carol.at}",
        **{"m.mentions": {"user_ids": [harness.bot_at, carol.user_id, bob.user_id]}},
    )
    harness.ingest()
    (intent_id,) = pending(harness.app, alice)
    assert alice.member is not None
    intent = harness.app.wallet.intent(alice.member.id, intent_id)
    assert intent is not None
    assert intent.payee.network_user_id == carol.user_id


def test_a_reply_that_shows_the_person_answered_as_a_pill_pays_them(
    harness: MatrixHarness,
) -> None:
    alice = harness.person("alice", funds=20_00)
    bob = harness.person("bob")
    asked = harness.mention(bob, "Tu me dois 2 € pour le café", mentions=[])
    pill = f'<a href="https://matrix.to/#/{bob.user_id}">Bob</a>'
    _reply(
        harness,
        alice,
        asked,
        "Envoi #envoyer 2€ Bob",
        format="org.matrix.custom.html",
        formatted_body=f"Envoi #envoyer 2€ {pill}",
        **{"m.mentions": {"user_ids": [harness.bot_at, bob.user_id]}},
    )
    harness.ingest()
    (intent_id,) = pending(harness.app, alice)
    assert alice.member is not None
    intent = harness.app.wallet.intent(alice.member.id, intent_id)
    assert intent is not None
    assert intent.payee.network_user_id == bob.user_id


def test_an_empty_m_mentions_lets_a_typed_id_name_the_payee(
    harness: MatrixHarness, api: TestClient
) -> None:
    """Element sends ``"m.mentions": {}`` when nothing was picked: the fully qualified id
    typed in the text names the payee."""
    alice = harness.person("alice", funds=20_00)
    bob = harness.person("bob")
    event_id = harness.client(alice).send(
        harness.room,
        {"msgtype": "m.text", "body": f"{harness.bot_at} #envoyer 5€ {bob.at}", "m.mentions": {}},
    )
    assert event_id
    harness.ingest()
    confirmed = _confirm_over_api(api, alice)
    assert (confirmed["state"], confirmed["payee"]["user_id"]) == ("settled", bob.user_id)
    assert balance(harness.app, bob) == 5_00


def test_matrix_ids_up_to_the_specs_length(harness: MatrixHarness, api: TestClient) -> None:
    """A Matrix id may be 255 characters: linked, paid and written to like any other."""
    alice = harness.person("alice", funds=20_00)
    localpart = "b" * (255 - len("@:localhost") - len(harness.tag)) + harness.tag
    bob = harness.person("bob", localpart=localpart)
    assert len(bob.user_id) == 255
    harness.dm(alice, f"#envoyer 5€ {bob.at}")
    harness.ingest()
    confirmed = _confirm_over_api(api, alice)
    assert (confirmed["state"], confirmed["payee"]["user_id"]) == ("settled", bob.user_id)
    assert any("5,00" in text for text in harness.dms(bob))
