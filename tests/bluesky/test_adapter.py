"""The Bluesky adapter against a real local AT Protocol network (PDS + AppView from
@atproto/dev-env). Direct-message tests go through the real PDS to the chat STAND-IN
(tests/servers/bsky_chat.py): Bluesky's chat service is closed source."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from atproto_client.client.session import Session
from atproto_client.utils import TextBuilder
from sqlalchemy import Engine, update

from envoi.adapters.networks.bluesky.gateway import BlueskyGateway, convo_of
from envoi.adapters.networks.bluesky.reader import BlueskyReader
from envoi.adapters.networks.bluesky.session import (
    BlueskyConfig,
    BlueskyUnavailableError,
    BotSession,
)
from envoi.adapters.networks.bluesky.store import SqlBlueskyStore, sealing_key
from envoi.adapters.networks.bluesky.tables import bluesky_dm_sends
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.ports import InboundPost
from tests.bluesky.conftest import Person, client, unique_handle
from tests.servers.atproto.network import AtprotoNetwork
from tests.servers.bsky_chat import ChatStandIn

pytestmark = pytest.mark.bluesky


class Ingested:
    """Reads as the ingest loop does (cursor in, batch out, cursor kept) and records."""

    def __init__(self, reader: BlueskyReader, cursor: str | None = None) -> None:
        self.reader, self.cursor = reader, cursor
        self.posts: list[InboundPost] = []
        self.deleted: list[str] = []

    def step(self) -> int:
        batch = self.reader.read(self.cursor, 0)
        for event in batch.events:
            if event.post is not None:
                self.posts.append(event.post)
            if event.deleted_post_id is not None:
                self.deleted.append(event.deleted_post_id)
        self.cursor = batch.cursor
        return len(batch.events)


def watched(ingested: Ingested) -> dict[str, str]:
    assert ingested.cursor is not None
    found: dict[str, str] = json.loads(ingested.cursor)["w"]
    return found


def mention_post(author: Person, bot: Person, text_before: str, payee: Person | None) -> Any:
    """A post as Bluesky's app writes it: mention facets over the @handles."""
    builder = TextBuilder().mention(f"@{bot.handle}", bot.did).text(text_before)
    if payee is not None:
        builder = builder.mention(f"@{payee.handle}", payee.did)
    return author.client.send_post(builder, profile_identify=author.did)


def poll_until(action: Callable[[], int], want: int, timeout: float = 15.0) -> int:
    """Notifications reach the AppView asynchronously: poll, as the worker loop does."""
    total = 0
    deadline = time.monotonic() + timeout
    while total < want and time.monotonic() < deadline:
        total += action()
        if total < want:
            time.sleep(0.2)
    return total


def test_a_mention_reaches_envoi_with_the_payee_s_did_from_the_facet(
    person: Callable[[str], Person], bot: Person, gateway: BlueskyGateway, bot_session: BotSession
) -> None:
    alice, bob = person("alice"), person("bob")
    # "5€ " puts the payee's facet 2 bytes further than its character index.
    sent = mention_post(alice, bot, " #envoyer 5€ ", bob)
    ingested = Ingested(BlueskyReader(bot_session, gateway))
    bot.network.process_all()

    assert poll_until(ingested.step, 1) == 1
    [post] = ingested.posts
    assert post.network == "bluesky"
    assert post.post_id == sent.uri
    assert post.author.user_id == alice.did
    assert post.author.handle == alice.handle
    assert post.text == f"@{bot.handle} #envoyer 5€ @{bob.handle}"
    assert post.direct is False
    assert [(m.user_id, m.handle) for m in post.mentions] == [
        (bot.did, bot.handle),
        (bob.did, bob.handle),
    ]
    assert post.mentions[1].display_name == "Bob"
    assert ingested.step() == 0  # nothing new: nothing again


def test_the_stored_cursor_delivers_each_mention_once_across_restarts(
    person: Callable[[str], Person], bot: Person, gateway: BlueskyGateway, bot_session: BotSession
) -> None:
    alice = person("alice")
    first = Ingested(BlueskyReader(bot_session, gateway))
    mention_post(alice, bot, " one", None)
    bot.network.process_all()
    assert poll_until(first.step, 1) == 1

    mention_post(alice, bot, " two", None)
    mention_post(alice, bot, " three", None)
    bot.network.process_all()
    # A new reader (a restarted worker) from the stored cursor, one notification a page:
    # the two new ones, oldest first, and nothing it had already delivered.
    second = Ingested(BlueskyReader(bot_session, gateway, page_size=1), first.cursor)
    assert poll_until(second.step, 2) == 2
    assert [p.text.split(" ", 1)[1] for p in second.posts] == ["two", "three"]
    assert Ingested(BlueskyReader(bot_session, gateway), second.cursor).step() == 0


def test_a_deleted_command_is_reported_while_it_is_watched(
    person: Callable[[str], Person], bot: Person, gateway: BlueskyGateway, bot_session: BotSession
) -> None:
    alice = person("alice")
    kept = mention_post(alice, bot, " #envoyer 1€ kept", None)
    gone = mention_post(alice, bot, " #envoyer 2€ gone", None)
    mention_post(alice, bot, " hello", None)
    reader = BlueskyReader(bot_session, gateway, deletion_check=timedelta(0))
    ingested = Ingested(reader)
    bot.network.process_all()
    assert poll_until(ingested.step, 3) == 3
    assert set(watched(ingested)) == {kept.uri, gone.uri}  # "hello" is no command
    alice.client.delete_post(gone.uri)
    bot.network.process_all()
    assert ingested.step() == 1
    assert ingested.deleted == [gone.uri]
    assert set(watched(ingested)) == {kept.uri}
    assert ingested.step() == 0  # reported once


def test_a_handle_typed_without_a_facet_is_looked_up_to_its_did(
    person: Callable[[str], Person], bot: Person, gateway: BlueskyGateway, bot_session: BotSession
) -> None:
    alice, bob = person("alice"), person("bob")
    builder = TextBuilder().mention(f"@{bot.handle}", bot.did).text(f" #envoyer 5€ @{bob.handle}")
    alice.client.send_post(builder, profile_identify=alice.did)
    ingested = Ingested(BlueskyReader(bot_session, gateway))
    bot.network.process_all()
    poll_until(ingested.step, 1)
    [post] = ingested.posts
    assert [m.user_id for m in post.mentions] == [bot.did]  # no facet for Bob
    found = gateway.lookup_user(f"@{bob.handle.upper()}")
    assert found is not None
    assert (found.user_id, found.handle, found.display_name) == (bob.did, bob.handle, "Bob")
    assert gateway.lookup_user("nobody-here.test") is None


def test_a_reply_carries_root_and_parent_strong_refs_and_mentions_by_did(
    person: Callable[[str], Person], bot: Person, gateway: BlueskyGateway
) -> None:
    alice, bob = person("alice"), person("bob")
    root = alice.client.send_post(f"hello @{bot.handle}", profile_identify=alice.did)
    ref = {"uri": root.uri, "cid": root.cid}
    middle = bob.client.send_post(
        "a reply", reply_to={"root": ref, "parent": ref}, profile_identify=bob.did
    )
    bot.network.process_all()

    text = f"@{alice.handle} 5,00 € envoyés à @{bob.handle} ✓"
    reply_uri = gateway.reply(middle.uri, text, idempotency_key="envoi-out1")
    # A worker killed after posting retries with the same key: the same post, not a second.
    assert gateway.reply(middle.uri, text, idempotency_key="envoi-out1") == reply_uri
    assert gateway.reply(middle.uri, text, idempotency_key="envoi-out2") != reply_uri

    record = bot.client.app.bsky.feed.post.get(bot.did, reply_uri.rsplit("/", 1)[1]).value
    assert (record.reply.parent.uri, record.reply.parent.cid) == (middle.uri, middle.cid)
    assert (record.reply.root.uri, record.reply.root.cid) == (root.uri, root.cid)
    data = record.text.encode()
    spans = {
        data[f.index.byte_start : f.index.byte_end].decode(): f.features[0].did
        for f in record.facets
    }
    assert spans == {f"@{alice.handle}": alice.did, f"@{bob.handle}": bob.did}

    # Alice is told by Bluesky itself: her notifications show the bot's reply.
    def alice_sees_it() -> int:
        notes = alice.client.app.bsky.notification.list_notifications().notifications
        return int(any(n.uri == reply_uri for n in notes))

    bot.network.process_all()
    assert poll_until(alice_sees_it, 1) == 1


def test_a_reply_to_a_post_that_is_gone_says_so(
    person: Callable[[str], Person], bot: Person, gateway: BlueskyGateway
) -> None:
    alice = person("alice")
    post = alice.client.send_post("soon gone", profile_identify=alice.did)
    alice.client.delete_post(post.uri)
    bot.network.process_all()
    with pytest.raises(EnvoiError) as caught:
        gateway.reply(post.uri, "hello", idempotency_key="envoi-out3")
    assert caught.value.code is ErrorCode.POST_NOT_FOUND


def test_a_renamed_account_keeps_its_did(
    person: Callable[[str], Person], bot: Person, gateway: BlueskyGateway
) -> None:
    bob = person("bob")
    new_handle = f"robert-{bob.handle}"
    bob.client.com.atproto.identity.update_handle({"handle": new_handle})
    bot.network.process_all()
    renamed = gateway.lookup_user(new_handle)
    assert renamed is not None
    assert (renamed.user_id, renamed.handle) == (bob.did, new_handle)
    assert gateway.lookup_user(bob.handle) is None  # the old handle names nobody now


def test_an_unreachable_pds_is_reported_as_unavailable() -> None:
    session = BotSession(BlueskyConfig("http://127.0.0.1:9", "bot.test", "pw"))
    gateway = BlueskyGateway(session)
    with pytest.raises(BlueskyUnavailableError):
        gateway.lookup_user("bob.test")
    with pytest.raises(BlueskyUnavailableError):
        BlueskyReader(session, gateway).read('{"n": "2026-12-01T00:00:00Z"}', 0)


# --- direct messages: through the real PDS to the chat STAND-IN ----------------------


def test_standin_a_direct_message_reaches_envoi_and_the_answer_stays_in_it(
    person: Callable[[str], Person],
    bot: Person,
    gateway: BlueskyGateway,
    bot_session: BotSession,
    chat_standin: ChatStandIn,
) -> None:
    alice, bob = person("alice"), person("bob")
    chat = alice.chat(chat_standin)
    convo = chat.chat.bsky.convo.get_convo_for_members({"members": [bot.did]}).convo
    chat.chat.bsky.convo.send_message(
        {"convoId": convo.id, "message": {"text": f"#envoyer 5€ @{bob.handle}"}}
    )
    ingested = Ingested(BlueskyReader(bot_session, gateway))
    assert ingested.step() == 1
    [post] = ingested.posts
    assert post.direct is True
    assert (post.author.user_id, post.author.handle) == (alice.did, alice.handle)
    assert convo_of(post.post_id) == convo.id
    assert ingested.step() == 0  # the cursor moved past it

    answer = gateway.reply(
        post.post_id, f"Confirmez dans le portefeuille, @{alice.handle}", idempotency_key="k1"
    )
    assert convo_of(answer) == convo.id
    messages = chat.chat.bsky.convo.get_messages({"convoId": convo.id}).messages
    assert messages[0].text.startswith("Confirmez")
    assert str(messages[0].sender.did) == bot.did
    # Every call reached the stand-in through the PDS, signed as the account that made it.
    assert (bot.did, "chat.bsky.convo.getLog") in chat_standin.calls
    assert (alice.did, "chat.bsky.convo.sendMessage") in chat_standin.calls
    # The bot's own message is not read back as a command.
    assert ingested.step() == 0


def test_standin_a_direct_message_to_someone_opens_a_conversation(
    person: Callable[[str], Person],
    bot: Person,
    gateway: BlueskyGateway,
    chat_standin: ChatStandIn,
) -> None:
    bob = person("bob")
    sent = gateway.direct_message(bob.did, "Vous avez reçu 5,00 €", idempotency_key="k2")
    convos = bob.chat(chat_standin).chat.bsky.convo.list_convos().convos
    [convo] = [c for c in convos if c.id == convo_of(sent)]
    assert {m.did for m in convo.members} == {bob.did, bot.did}


def test_a_brand_new_account_is_found_by_its_did_before_the_appview_knows_it(
    atproto: AtprotoNetwork, gateway: BlueskyGateway
) -> None:
    # Right after createAccount, the PDS resolves the handle while the AppView (fed by the
    # PDS's event stream) has no profile yet: the DID is what counts, the name can wait.
    gateway.lookup_user("warm-up.test")  # the bot's session is open: no login in between
    newcomer = client(atproto)
    try:
        # Three times: the AppView may win the race once; then the test proves nothing.
        for _ in range(3):
            handle = unique_handle("newcomer")
            made = newcomer.com.atproto.server.create_account(
                {"handle": handle, "email": f"{handle}@example.com", "password": "long password"}
            )
            found = gateway.lookup_user(handle)
            assert found is not None
            assert (found.user_id, found.handle) == (str(made.did), handle)
    finally:
        newcomer.request.close()


def test_standin_a_direct_message_is_sent_once_per_idempotency_key(
    person: Callable[[str], Person],
    bot: Person,
    bot_session: BotSession,
    chat_standin: ChatStandIn,
    engine: Engine,
) -> None:
    gateway = BlueskyGateway(bot_session, SqlBlueskyStore(engine, sealing_key("test key")))
    bob = person("bob")
    text = "Vous avez reçu 5,00 €"
    first = gateway.direct_message(bob.did, text, idempotency_key="out-1")
    assert gateway.direct_message(bob.did, text, idempotency_key="out-1") == first
    # Another payment of the same amount is another message.
    second = gateway.direct_message(bob.did, text, idempotency_key="out-2")
    assert second != first
    # A crash after the send, before its record: the retry finds the message it sent.
    with engine.begin() as conn:
        conn.execute(
            update(bluesky_dm_sends)
            .where(bluesky_dm_sends.c.idempotency_key == "out-1")
            .values(message_id=None)
        )
    assert gateway.direct_message(bob.did, text, idempotency_key="out-1") == first
    # An answer in the conversation (a reply to a direct message) is once per key too.
    convo = convo_of(first)
    assert convo is not None
    answer = gateway.reply(f"chat:{convo}:msg0", "Merci !", idempotency_key="out-3")
    assert gateway.reply(f"chat:{convo}:msg0", "Merci !", idempotency_key="out-3") == answer
    # A crash before the send (recorded as started, nothing sent): the retry sends it.
    gateway.dm_log.start_dm_send("out-4", convo, "9999")  # type: ignore[union-attr]
    with engine.begin() as conn:
        conn.execute(
            update(bluesky_dm_sends)
            .where(bluesky_dm_sends.c.idempotency_key == "out-4")
            .values(after_rev=str(gateway._convo(convo).rev))
        )
    fourth = gateway.direct_message(bob.did, text, idempotency_key="out-4")
    assert fourth not in (first, second)

    chat = bob.chat(chat_standin).chat.bsky.convo
    sent = [m.text for m in chat.get_messages({"convoId": convo}).messages]
    assert sorted(sent) == sorted([text, text, "Merci !", text])


def test_a_restarted_bot_resumes_its_saved_session_without_logging_in(
    bot: Person, chat_standin: ChatStandIn, engine: Engine
) -> None:
    store = SqlBlueskyStore(engine, sealing_key("test key"))
    app_password = str(
        bot.client.com.atproto.server.create_app_password({"name": "restarts"}).password
    )
    pds = bot.network.pds_url
    first = BotSession(BlueskyConfig(pds, bot.handle, app_password, chat_standin.did), store)
    assert first.did == bot.did
    saved = store.load_session(pds, bot.handle)
    assert saved is not None
    assert app_password not in saved
    first.close()
    # Sealed: another key (another ENVOI_TOKEN_KEY) does not open it.
    assert SqlBlueskyStore(engine, sealing_key("other key")).load_session(pds, bot.handle) is None

    # Restarted with a wrong password: only the saved session can let it in.
    second = BotSession(BlueskyConfig(pds, bot.handle, "wrong password"), store)
    found = BlueskyGateway(second).lookup_user(bot.handle)
    assert found is not None
    assert found.user_id == bot.did
    second.close()

    # A session the PDS refuses (logged out, access token expired) is forgotten and the
    # app password opens a new one, which is saved.
    refused = Session.decode(saved)
    logout = client(bot.network)
    logout.com.atproto.server.delete_session(
        headers={"Authorization": f"Bearer {refused.refresh_jwt}"}
    )
    logout.request.close()
    refused.access_jwt = expired_copy(refused.access_jwt)
    store.save_session(pds, bot.handle, refused.encode())
    third = BotSession(BlueskyConfig(pds, bot.handle, app_password), store)
    found = BlueskyGateway(third).lookup_user(bot.handle)
    assert found is not None
    assert found.user_id == bot.did
    renewed = store.load_session(pds, bot.handle)
    assert renewed is not None
    assert renewed != refused.encode()
    third.close()


def expired_copy(jwt: str) -> str:
    """The same token claiming to have expired an hour ago (so the client refreshes first)."""
    header, payload, signature = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 3600
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"
