"""The seed's story on Bluesky, end to end: ``envoi run`` (its ingest loop, its outbox
worker) against the real local AT Protocol network, people using the wallet over HTTP and
Bluesky with their own clients. The direct-message story goes through the real PDS to the
chat STAND-IN (Bluesky's chat service is closed source)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.bluesky.conftest import Person as Account
from tests.bluesky.conftest import client, create_person
from tests.bluesky.test_contract import post_as_app_does
from tests.databases import BACKENDS, empty_database
from tests.e2e.people import OPEN_CLIENTS, Person, eventually
from tests.e2e.server import Server, running_server
from tests.servers.atproto.network import AtprotoNetwork
from tests.servers.bsky_chat import ChatStandIn

pytestmark = pytest.mark.bluesky


class Live:
    """The server and the bot's account it runs as."""

    def __init__(self, server: Server, bot: Account, atproto: AtprotoNetwork) -> None:
        self.server, self.bot, self.atproto = server, bot, atproto

    @property
    def bot_at(self) -> str:
        return f"@{self.bot.handle}"


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    atproto: AtprotoNetwork,
    chat_standin: ChatStandIn,
) -> Iterator[Live]:
    bot = create_person(atproto, "smoney")
    app_password = bot.client.com.atproto.server.create_app_password(
        {"name": "envoi", "privileged": True}
    ).password
    with (
        empty_database(request.param, tmp_path_factory.mktemp("bsky")) as url,
        running_server(
            url,
            tmp_path_factory.mktemp("logs"),
            networks="bluesky",
            bluesky__service_url=atproto.pds_url,
            bluesky__identifier=bot.handle,
            bluesky__app_password=str(app_password),
            bluesky__chat_did=chat_standin.did,
            bluesky__poll_s="0.2",
        ) as server,
    ):
        yield Live(server, bot, atproto)
        result = server.cli("ledger", "check")
        assert result.returncode == 0, result.stdout + result.stderr
    bot.close()


ACCOUNTS: list[Account] = []  # their clients, closed after each test


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()
    while ACCOUNTS:
        ACCOUNTS.pop().close()


class Someone:
    """A person with a Bluesky account (their own client) and maybe a wallet (over HTTP)."""

    def __init__(self, live: Live, name: str, account: Account) -> None:
        self.live, self.account = live, account
        ACCOUNTS.append(account)
        self.wallet = Person(live.server.base_url, name, account.handle)

    def open_wallet(self) -> Someone:
        # Handles are e-mail-safe here ("alice-1a2b3c.test"); sign_up derives the e-mail.
        self.wallet.sign_up()
        return self

    def link(self, *, by_dm: bool = False, standin: ChatStandIn | None = None) -> dict[str, Any]:
        """Ask the wallet for a code, send it to the bot from the account, wait for the link."""
        r = self.wallet.http.post(
            "/api/v1/me/identities/challenges",
            json={"network": "bluesky", "handle": self.account.handle},
        )
        assert r.status_code == 201, r.text
        challenge = r.json()
        assert challenge["user_id"] == self.account.did
        assert challenge["code"] in challenge["instructions"]
        assert self.live.bot.handle in challenge["instructions"]
        if by_dm:
            assert standin is not None
            self.dm(standin, challenge["code"])
        else:
            self.post(f"{self.live.bot_at} {challenge['code']}")
        return eventually(self.identity, timeout=30)

    def identity(self) -> dict[str, Any] | None:
        found = self.wallet.http.get("/api/v1/me/identities").json()
        return next((i for i in found if i["network"] == "bluesky"), None)

    def post(self, text: str) -> str:
        uri = str(post_as_app_does(self.account, text).uri)
        self.live.atproto.process_all()  # the AppView indexes it: the bot is notified
        return uri

    def dm(self, standin: ChatStandIn, text: str) -> None:
        chat = self.account.chat(standin)
        convo = chat.chat.bsky.convo.get_convo_for_members({"members": [self.live.bot.did]}).convo
        chat.chat.bsky.convo.send_message({"convoId": convo.id, "message": {"text": text}})

    def told_on_bluesky(self) -> list[str]:
        """Texts of the bot's posts that notified this account (replies, mentions)."""
        return [str(record.text) for record in self.bot_posts_naming_me()]

    def bot_posts_naming_me(self) -> list[Any]:
        """The records of the bot's posts that notified this account."""
        self.live.atproto.process_all()
        notes = self.account.client.app.bsky.notification.list_notifications().notifications
        return [n.record for n in notes if str(n.author.did) == self.live.bot.did]

    def dms_from_bot(self, standin: ChatStandIn) -> list[str]:
        chat = self.account.chat(standin)
        texts: list[str] = []
        for convo in chat.chat.bsky.convo.list_convos().convos:
            messages = chat.chat.bsky.convo.get_messages({"convoId": convo.id}).messages
            texts += [str(m.text) for m in messages if str(m.sender.did) == self.live.bot.did]
        return texts


def someone(live: Live, name: str) -> Someone:
    return Someone(live, name, create_person(live.atproto, name.split(maxsplit=1)[0].lower()))


def test_pay_bob_by_mentioning_him_on_bluesky(live: Live) -> None:
    alice = someone(live, "Alice Martin").open_wallet()
    bob = someone(live, "Bob Durand").open_wallet()
    assert alice.link()["user_id"] == alice.account.did
    assert bob.link()["handle"] == bob.account.handle
    assert alice.wallet.top_up(20_00)["status"] == "succeeded"

    command = alice.post(f"{live.bot_at} #envoyer 5€ @{bob.account.handle}")
    intent = eventually(lambda: next(iter(alice.wallet.to_confirm()), None), timeout=30)
    assert intent["payee"]["display_name"] == "Bob Durand"
    assert intent["payee"]["handle"] == bob.account.handle
    assert intent["payee"]["user_id"] == bob.account.did
    assert intent["amount_minor"] == 5_00
    r = alice.wallet.confirm(intent["id"])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "settled"

    # Bob is told on Bluesky itself (the bot's public reply names him), and sees it.
    told = eventually(
        lambda: [r for r in bob.bot_posts_naming_me() if "5,00" in r.text], timeout=30
    )
    reply = told[0]
    # A reply in Alice's thread (strong refs: her post is both root and parent) whose
    # mention facet carries Bob's DID over the UTF-8 bytes (not characters) of "@bob…".
    assert reply.reply.parent.uri == reply.reply.root.uri == command
    assert reply.reply.parent.cid == reply.reply.root.cid
    data = reply.text.encode()
    mentions = {
        data[f.index.byte_start : f.index.byte_end].decode(): f.features[0].did
        for f in reply.facets
    }
    assert mentions[f"@{bob.account.handle}"] == bob.account.did
    received = bob.wallet.history()[0]
    assert (received["direction"], received["amount_minor"], received["state"]) == (
        "in",
        5_00,
        "settled",
    )
    assert bob.wallet.wallet()["balance_minor"] == 5_00
    assert alice.wallet.wallet()["balance_minor"] == 15_00


def test_standin_pay_bob_by_direct_message(live: Live, chat_standin: ChatStandIn) -> None:
    alice = someone(live, "Alice Martin").open_wallet()
    bob = someone(live, "Bob Durand").open_wallet()
    alice.link(by_dm=True, standin=chat_standin)
    bob.link(by_dm=True, standin=chat_standin)
    assert alice.wallet.top_up(20_00)["status"] == "succeeded"

    alice.dm(chat_standin, f"#envoyer 3€ @{bob.account.handle}")
    intent = eventually(lambda: next(iter(alice.wallet.to_confirm()), None), timeout=30)
    assert intent["payee"]["user_id"] == bob.account.did
    assert alice.wallet.confirm(intent["id"]).json()["state"] == "settled"

    # Private: both hear by DM, nothing public names them.
    assert eventually(lambda: [t for t in bob.dms_from_bot(chat_standin) if "3,00" in t])
    assert eventually(lambda: [t for t in alice.dms_from_bot(chat_standin) if "3,00" in t])
    assert not [t for t in bob.told_on_bluesky() if "3,00" in t]
    assert bob.wallet.history()[0]["amount_minor"] == 3_00


def test_carol_claims_after_linking_and_a_rename_keeps_the_money_with_her(live: Live) -> None:
    alice = someone(live, "Alice Martin").open_wallet()
    alice.link()
    assert alice.wallet.top_up(20_00)["status"] == "succeeded"
    carol = someone(live, "Carol Petit")  # on Bluesky, no wallet yet
    old_handle = carol.account.handle

    alice.post(f"{live.bot_at} #envoyer 4€ @{old_handle}")
    intent = eventually(lambda: next(iter(alice.wallet.to_confirm()), None), timeout=30)
    assert intent["payee"]["user_id"] == carol.account.did
    assert alice.wallet.confirm(intent["id"]).json()["state"] == "claimable"

    # Carol renames her account; someone else then takes her old handle.
    new_handle = f"carol-{secrets.token_hex(3)}.test"
    carol.account.client.com.atproto.identity.update_handle({"handle": new_handle})
    carol.account.handle = new_handle
    mallory = Someone(live, "Mallory", create_named(live.atproto, old_handle))
    live.atproto.process_all()

    # The newcomer with the old handle gets nothing: the money follows Carol's DID.
    mallory.open_wallet()
    assert mallory.link()["user_id"] == mallory.account.did != carol.account.did
    carol.wallet.handle = new_handle
    carol.open_wallet()
    assert carol.link()["handle"] == new_handle
    eventually(lambda: carol.wallet.wallet()["balance_minor"] == 4_00 or None, timeout=30)
    assert mallory.wallet.wallet()["balance_minor"] == 0
    assert alice.wallet.wallet()["balance_minor"] == 16_00


def create_named(atproto: AtprotoNetwork, handle: str) -> Account:
    """An account taking exactly ``handle`` (freed by a rename)."""
    password = secrets.token_urlsafe(12)
    new_client = client(atproto)
    made = new_client.com.atproto.server.create_account(
        {"handle": handle, "email": f"m-{handle}@example.com", "password": password}
    )
    new_client.login(handle, password, fetch_bsky_profile=False)
    return Account(str(made.did), handle, password, new_client, atproto)
