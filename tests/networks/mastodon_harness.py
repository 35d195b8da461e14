"""People on the Mastodon stand-in, driven through Mastodon.py as their own apps would.

Each person is an account of the stand-in with a token; they post, write direct statuses
and delete with Mastodon.py against the stand-in's URL. envoi is assembled with
``ENVOI_NETWORKS=mastodon`` and reads through its real reader (polling and SSE).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from mastodon import Mastodon

from envoi.adapters.networks.mastodon.api import MastodonApi
from envoi.adapters.networks.mastodon.content import status_text
from envoi.adapters.networks.mastodon.posts import NETWORK, inbound_post
from envoi.adapters.networks.mastodon.reader import MastodonReader
from envoi.bootstrap import Envoi
from envoi.config import MastodonSettings
from envoi.domain.model import Member
from envoi.services.ingest import Ingest
from tests.integration.flow_app import World, make_world
from tests.networks.contract import Person, enrol
from tests.networks.mastodon_standin import LOCAL_DOMAIN

BOT = "envoi"


def standin_account(url: str, username: str, **extra: Any) -> tuple[dict[str, Any], str]:
    made = httpx.post(f"{url}/_standin/accounts", json={"username": username, **extra})
    made.raise_for_status()
    body = made.json()
    return body["account"], body["token"]


class MastodonHarness:
    network = NETWORK
    bot_at = f"@{BOT}"  # as people on the bot's instance type it

    def __init__(self, url: str, database_url: str) -> None:
        self.url = url
        self.database_url = database_url
        httpx.post(f"{url}/_standin/reset").raise_for_status()
        self.bot_account, self.bot_token = standin_account(url, BOT, bot=True)
        self.bot_client = self._client(self.bot_token)
        self._clients: list[Mastodon] = [self.bot_client]
        self._rewind: str | None = None
        self._stream_event_due = False
        self.world = self._world()
        self.ingest()  # a new deployment starts from the newest notification

    def _client(self, token: str) -> Mastodon:
        return Mastodon(access_token=token, api_base_url=self.url, ratelimit_method="throw")

    def _world(self) -> World:
        world = make_world(
            self.database_url,
            networks=("mastodon",),
            mastodon=MastodonSettings(base_url=self.url, access_token=self.bot_token),  # type: ignore[arg-type]
        )
        world.app.ingests[NETWORK].wait_s = 0.3
        return world

    @property
    def app(self) -> Envoi:
        return self.world.app

    @property
    def _ingest(self) -> Ingest:
        return self.app.ingests[NETWORK]

    def _stop_reader(self) -> None:
        reader = self._ingest.reader
        assert isinstance(reader, MastodonReader)
        reader.close()
        # The stream's thread ends when the connection does: the server hangs up.
        httpx.post(f"{self.url}/_standin/hangup", json={"token": self.bot_token})
        reader.join(10)
        reader.api.close()

    def close(self) -> None:
        self._stop_reader()
        for client in self._clients:
            client.session.close()
        self.app.engine.dispose()

    # --- people -----------------------------------------------------------------------

    def person(self, name: str, *, funds: int = 0, member: bool = True) -> Person:
        account, token = standin_account(self.url, name)
        client = self._client(token)
        self._clients.append(client)
        person = Person(name, None, account["id"], name, client)
        if member:
            enrol(self, person, email=f"{name}@example.org", funds=funds, topup_key=f"m-{name}")
        return person

    def link(self, person: Person, member: Member) -> None:
        issued = self.app.linking.start(member.id, NETWORK, person.handle)
        self.dm(person, f"Mon code : {issued.code}")
        self.ingest()

    def mention(self, author: Person, text: str) -> str:
        return str(author.secret.status_post(text, visibility="public").id)  # type: ignore[attr-defined]

    def dm(self, author: Person, text: str) -> str:
        # A direct status reaches exactly the accounts it mentions.
        status = author.secret.status_post(f"{self.bot_at} {text}", visibility="direct")  # type: ignore[attr-defined]
        return str(status.id)

    # --- envoi's side -----------------------------------------------------------------

    def ingest(self) -> None:
        self._rewind = self._ingest.cursors.load(NETWORK)
        if self._stream_event_due:
            # A deletion travels by the stream only: wait for it as long as a loaded
            # machine needs (the read returns as soon as it comes).
            self._ingest.wait_s = 10
            self._stream_event_due = False
        try:
            while self._ingest.step():
                self._ingest.wait_s = 0.3
        finally:
            self._ingest.wait_s = 0.3

    def replay(self) -> None:
        batch = self._ingest.reader.read(self._rewind, 0)
        for event in batch.events:
            if event.post is not None:
                self.app.intake.receive_post(event.post)

    def restart(self) -> None:
        clock = self.world.clock
        self._stop_reader()
        self.app.engine.dispose()
        self.world = self._world()
        self.world.clock = clock

    def _to_bot_mentions(self, person: Person) -> list[Any]:
        self.app.delivery.deliver_due()
        notes = person.secret.notifications(types=["mention"], limit=80)  # type: ignore[attr-defined]
        return [n.status for n in notes if str(n.account.id) == str(self.bot_account["id"])]

    def _text(self, status: Any) -> str:
        urls = {m.url: m.acct for m in status.mentions}
        return status_text(status.content, urls)

    def received(self, person: Person) -> list[str]:
        return [self._text(s) for s in self._to_bot_mentions(person)]

    def dms(self, person: Person) -> list[str]:
        return [self._text(s) for s in self._to_bot_mentions(person) if s.visibility == "direct"]

    def rename(self, person: Person, new_handle: str) -> None:
        httpx.post(
            f"{self.url}/_standin/accounts/{person.user_id}/rename",
            json={"username": new_handle},
        ).raise_for_status()
        person.handle = new_handle

    def delete(self, author: Person, post_id: str) -> None:
        author.secret.status_delete(post_id)  # type: ignore[attr-defined]
        self._stream_event_due = True

    def bot_posts(self, text: str) -> str:
        status = self.bot_client.status_post(text, visibility="public")
        # Mastodon never notifies an author of their own mention; hand it over anyway:
        # the intake must ignore it on its own.
        api = MastodonApi(self.url, self.bot_token)
        try:
            self.app.intake.receive_post(inbound_post(api, status))
        finally:
            api.close()
        return str(status.id)

    @contextmanager
    def outage(self) -> Iterator[None]:
        body = {"token": self.bot_token, "down": True}
        httpx.post(f"{self.url}/_standin/outage", json=body).raise_for_status()
        try:
            yield
        finally:
            body["down"] = False
            httpx.post(f"{self.url}/_standin/outage", json=body).raise_for_status()


def qualified(handle: str) -> str:
    return handle if "@" in handle else f"{handle}@{LOCAL_DOMAIN}"
