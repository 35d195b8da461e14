"""The network contract on Bluesky: a real local AT Protocol network (PLC, PDS, AppView from
@atproto/dev-env) for posts, mentions, replies, renames and deletions; direct messages go
through the real PDS to the chat STAND-IN (Bluesky's chat service is closed source)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from atproto_client.exceptions import BadRequestError
from atproto_client.utils.facet_detection import detect_mentions
from sqlalchemy import select

from envoi.adapters.db.tables import inbound_posts
from envoi.adapters.networks.bluesky.reader import BlueskyReader
from envoi.adapters.networks.bluesky.session import (
    BlueskyConfig,
    BlueskyUnavailableError,
    BotSession,
)
from envoi.bootstrap import Envoi
from envoi.config import BlueskySettings
from envoi.domain.model import Member
from envoi.services.ingest import Ingest
from tests.bluesky.conftest import Person as Account
from tests.integration.flow_app import World, make_world
from tests.networks.contract import NetworkContract, Person, enrol
from tests.servers.atproto.network import AtprotoNetwork
from tests.servers.bsky_chat import ChatStandIn

pytestmark = pytest.mark.bluesky

NETWORK = "bluesky"


def post_as_app_does(author: Account, text: str) -> Any:
    """A post with mention facets over each @handle that exists, as Bluesky's app writes it."""
    facets = []
    for match in detect_mentions(text):
        try:
            did = author.client.com.atproto.identity.resolve_handle({"handle": match.handle}).did
        except BadRequestError:  # an unknown handle stays plain text, as in the app
            continue
        facets.append(
            {
                "index": {"byteStart": match.byte_start, "byteEnd": match.byte_end},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
            }
        )
    return author.client.send_post(text, facets=facets or None, profile_identify=author.did)


class BlueskyHarness:
    network = NETWORK

    def __init__(
        self,
        database_url: str,
        atproto: AtprotoNetwork,
        standin: ChatStandIn,
        make_account: Callable[[str], Account],
    ) -> None:
        self.database_url = database_url
        self.atproto = atproto
        self.standin = standin
        self.make_account = make_account
        self.bot = make_account("smoney")
        self.app_password = str(
            self.bot.client.com.atproto.server.create_app_password(
                {"name": "envoi", "privileged": True}
            ).password
        )
        self.bot_at = f"@{self.bot.handle}"
        self.world = self._world()
        self._cursor_before_last: str | None = None
        self._expected: set[str] = set()

    def _world(self) -> World:
        settings = BlueskySettings(
            service_url=self.atproto.pds_url,
            identifier=self.bot.handle,
            app_password=self.app_password,  # type: ignore[arg-type]
            chat_did=self.standin.did,
            poll_s=0.2,
            deletion_check_s=0,
        )
        return make_world(self.database_url, networks=("bluesky",), bluesky=settings)

    @property
    def app(self) -> Envoi:
        return self.world.app

    @property
    def ingest_loop(self) -> Ingest:
        return self.app.ingests[NETWORK]

    def close(self) -> None:
        gateway: Any = self.app.ctx.gateways[NETWORK]
        gateway.session.close()
        self.app.engine.dispose()

    # --- people ----------------------------------------------------------------------

    def person(self, name: str, *, funds: int = 0, member: bool = True) -> Person:
        account = self.make_account(name)
        self.atproto.process_all()  # the AppView knows the new account, as it soon would
        person = Person(name, None, account.did, account.handle, account)
        if member:
            enrol(
                self,
                person,
                email=f"{account.handle}@example.org",
                funds=funds,
                topup_key=f"bsky-{account.handle}",
            )
        return person

    def link(self, person: Person, member: Member) -> None:
        issued = self.app.linking.start(member.id, NETWORK, person.handle)
        assert issued.bot_handle == self.bot.handle
        self.dm(person, f"Mon code : {issued.code}")
        self.ingest()

    # --- acting on the network ---------------------------------------------------------

    def mention(self, author: Person, text: str) -> str:
        uri = str(post_as_app_does(author.secret, text).uri)  # type: ignore[arg-type]
        self._expected.add(uri)
        return uri

    def dm(self, author: Person, text: str) -> str:
        account: Account = author.secret  # type: ignore[assignment]
        chat = account.chat(self.standin)
        convo = chat.chat.bsky.convo.get_convo_for_members({"members": [self.bot.did]}).convo
        sent = chat.chat.bsky.convo.send_message({"convoId": convo.id, "message": {"text": text}})
        post_id = f"chat:{convo.id}:{sent.id}"
        self._expected.add(post_id)
        return post_id

    def ingest(self) -> None:
        """Run the ingest loop's step until every post made so far is stored."""
        self.atproto.process_all()
        self._cursor_before_last = self.app.ingests[NETWORK].cursors.load(NETWORK)
        deadline = time.monotonic() + 20
        while True:
            self.ingest_loop.step()
            missing = {p for p in self._expected if not self._stored(p)}
            if not missing:
                return
            assert time.monotonic() < deadline, f"never ingested: {missing}"
            time.sleep(0.2)

    def _stored(self, post_id: str) -> bool:
        query = select(inbound_posts.c.post_id).where(
            inbound_posts.c.network == NETWORK, inbound_posts.c.post_id == post_id
        )
        with self.app.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def replay(self) -> None:
        """Rewind the cursor to before the last ingest and read the same events again."""
        assert self._cursor_before_last is not None  # people link (and ingest) first
        self.ingest_loop.cursors.save(NETWORK, self._cursor_before_last)
        assert self.ingest_loop.step() > 0

    def restart(self) -> None:
        clock = self.world.clock
        self.close()
        self.world = self._world()
        self.world.clock = clock

    def received(self, person: Person) -> list[str]:
        """What the bot sent that reaches them: posts notifying them, and DMs."""
        self.app.delivery.deliver_due()
        self.atproto.process_all()
        account: Account = person.secret  # type: ignore[assignment]
        notes = account.client.app.bsky.notification.list_notifications().notifications
        texts = [str(n.record.text) for n in notes if str(n.author.did) == self.bot.did]
        return texts + self.dms(person)

    def dms(self, person: Person) -> list[str]:
        self.app.delivery.deliver_due()
        account: Account = person.secret  # type: ignore[assignment]
        chat = account.chat(self.standin)
        texts = []
        for convo in chat.chat.bsky.convo.list_convos().convos:
            if self.bot.did not in {m.did for m in convo.members}:
                continue
            messages = chat.chat.bsky.convo.get_messages({"convoId": convo.id}).messages
            texts += [str(m.text) for m in messages if str(m.sender.did) == self.bot.did]
        return texts

    def rename(self, person: Person, new_handle: str) -> None:
        # The local PDS hands out handles under ".test" only: "bob-1a2b.test2" becomes
        # "bob-1a2b2.test" (still a new handle for the same DID).
        if not new_handle.endswith(".test"):
            stem, _, tail = new_handle.rpartition(".test")
            new_handle = f"{stem}{tail}.test"
        account: Account = person.secret  # type: ignore[assignment]
        account.client.com.atproto.identity.update_handle({"handle": new_handle})
        account.handle = new_handle
        person.handle = new_handle
        self.atproto.process_all()

    def delete(self, author: Person, post_id: str) -> None:
        account: Account = author.secret  # type: ignore[assignment]
        account.client.delete_post(post_id)
        self._expected.discard(post_id)

    def bot_posts(self, text: str) -> str:
        return str(post_as_app_does(self.bot, text).uri)

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The bot's PDS cannot be reached: the read fails and the cursor does not move."""
        yield
        self.atproto.process_all()
        before = self.ingest_loop.cursors.load(NETWORK)
        session = BotSession(BlueskyConfig("http://127.0.0.1:9", self.bot.handle, "x"))
        down = Ingest(
            BlueskyReader(session, self.app.ctx.gateways[NETWORK]),  # type: ignore[arg-type]
            self.app.intake,
            self.ingest_loop.cursors,
        )
        with pytest.raises(BlueskyUnavailableError):
            down.step()
        assert self.ingest_loop.cursors.load(NETWORK) == before


@pytest.fixture
def harness(
    database_url: str,
    atproto: AtprotoNetwork,
    chat_standin: ChatStandIn,
    person: Callable[[str], Account],
) -> Iterator[BlueskyHarness]:
    built = BlueskyHarness(database_url, atproto, chat_standin, person)
    yield built
    built.close()


class TestBlueskyContract(NetworkContract):
    pass
