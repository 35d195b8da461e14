"""Driving a real Synapse as people do (their clients), and envoi's Matrix bot against it."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from envoi.adapters.networks.matrix.connection import MatrixConnection, MatrixUnavailableError
from envoi.adapters.networks.matrix.ids import split_post_id
from envoi.adapters.networks.matrix.reader import MatrixReader
from envoi.bootstrap import Envoi
from envoi.config import MatrixSettings
from envoi.domain.model import Member
from tests.integration.flow_app import World, make_world
from tests.networks.contract import Person, enrol
from tests.servers.synapse import Synapse


class Client:
    """A person's Matrix client: the client-server API, plain HTTP."""

    opened: list[Client] = []  # noqa: RUF012 - closed together at the end of each test

    def __init__(self, synapse: Synapse, account: dict[str, str]) -> None:
        Client.opened.append(self)
        self.user_id = account["user_id"]
        self.http = httpx.Client(
            base_url=f"{synapse.url}/_matrix/client/v3",
            headers={"Authorization": f"Bearer {account['access_token']}"},
            timeout=30,
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.http.request(method, path, json=body)
        assert answer.status_code == 200, f"{method} {path}: {answer.status_code} {answer.text}"
        found: dict[str, Any] = answer.json()
        return found

    def create_room(self, *, invite: list[str], direct: bool) -> str:
        body: dict[str, Any] = {
            "invite": invite,
            "is_direct": direct,
            "preset": "trusted_private_chat" if direct else "public_chat",
        }
        room_id: str = self.call("POST", "/createRoom", body)["room_id"]
        return room_id

    def join(self, room_id: str) -> None:
        self.call("POST", f"/join/{quote(room_id)}", {})

    def send(self, room_id: str, content: dict[str, Any]) -> str:
        path = f"/rooms/{quote(room_id)}/send/m.room.message/{uuid.uuid4().hex}"
        event_id: str = self.call("PUT", path, content)["event_id"]
        return event_id

    def redact(self, room_id: str, event_id: str) -> None:
        path = f"/rooms/{quote(room_id)}/redact/{quote(event_id)}/{uuid.uuid4().hex}"
        self.call("PUT", path, {"reason": "oops"})

    def set_name(self, name: str) -> None:
        self.call("PUT", f"/profile/{quote(self.user_id)}/displayname", {"displayname": name})

    def messages_from(self, sender: str) -> list[tuple[str, int, dict[str, Any]]]:
        """(room id, members, content) of every message ``sender`` wrote where we are;
        invitations are accepted first, as a person opening their client would."""
        state = self.call("GET", "/sync?timeout=0")
        for room_id in state.get("rooms", {}).get("invite", {}):
            self.join(room_id)
        found = []
        for room_id in self.call("GET", "/joined_rooms")["joined_rooms"]:
            members = self.call("GET", f"/rooms/{quote(room_id)}/joined_members")["joined"]
            chunk = self.call("GET", f"/rooms/{quote(room_id)}/messages?dir=b&limit=100")
            for event in chunk["chunk"]:
                if event["type"] == "m.room.message" and event["sender"] == sender:
                    found.append((room_id, len(members), event["content"]))
        return found


class MatrixHarness:
    """``tests.networks.contract.Harness`` on a real Synapse."""

    network = "matrix"

    def __init__(self, synapse: Synapse, database_url: str, *, store_path: str | None = None):
        self.synapse = synapse
        self.database_url = database_url
        self.tag = secrets.token_hex(3)
        bot = synapse.register(f"envoi{self.tag}")
        self.bot = Client(synapse, bot)
        self.bot_at = bot["user_id"]
        self.settings = MatrixSettings(
            homeserver_url=synapse.url,
            user_id=bot["user_id"],
            access_token=bot["access_token"],
            device_id=bot["device_id"],
            store_path=store_path,
            sync_wait_s=0,
        )
        self.world = self._build()
        self.host = Client(synapse, synapse.register(f"host{self.tag}"))
        self.room = self.host.create_room(invite=[self.bot_at], direct=False)
        self.dm_rooms: dict[str, str] = {}
        self._cursor_before: str | None = None
        self.ingest()  # the bot's first start: it joins, and reads from now on

    def _build(self) -> World:
        return make_world(self.database_url, matrix=self.settings, networks=("sandbox", "matrix"))

    @property
    def app(self) -> Envoi:
        return self.world.app

    def close(self, *, clients: bool = True) -> None:
        self._connection().close()
        self.world.app.engine.dispose()
        if clients:
            while Client.opened:
                Client.opened.pop().http.close()

    def _connection(self) -> MatrixConnection:
        reader = self.app.ingests["matrix"].reader
        assert isinstance(reader, MatrixReader)
        return reader.connection

    # --- people ---------------------------------------------------------------------

    def person(
        self, name: str, *, funds: int = 0, member: bool = True, localpart: str | None = None
    ) -> Person:
        account = self.synapse.register(localpart or f"{name}{self.tag}")
        client = Client(self.synapse, account)
        client.set_name(name.title())
        client.join(self.room)
        person = Person(name, None, account["user_id"], account["user_id"][1:], client)
        if member:
            enrol(
                self,
                person,
                email=f"{name}.{self.tag}@example.org",
                funds=funds,
                topup_key=f"m-{name}",
            )
        return person

    def link(self, person: Person, member: Member) -> None:
        issued = self.app.linking.start(member.id, "matrix", person.handle)
        self.dm(person, f"Voici mon code {issued.code}")
        self.ingest()
        identities = self.app.members.identities(member.id)
        assert person.user_id in [i.network_user_id for i in identities], identities

    @staticmethod
    def client(person: Person) -> Client:
        assert isinstance(person.secret, Client)
        return person.secret

    def mention(self, author: Person, text: str, *, mentions: list[str] | None = None) -> str:
        """Post in the shared room; by default the client marks the ids it shows as
        mentions (pills), as Element does when people pick them."""
        ids = mentions if mentions is not None else [w for w in text.split() if ":" in w]
        content = {"msgtype": "m.text", "body": text, "m.mentions": {"user_ids": ids}}
        event_id = self.client(author).send(self.room, content)
        return f"{self.room}|{event_id}"

    def dm_room(self, person: Person) -> str:
        if person.user_id not in self.dm_rooms:
            self.dm_rooms[person.user_id] = self.client(person).create_room(
                invite=[self.bot_at], direct=True
            )
        return self.dm_rooms[person.user_id]

    def dm(self, author: Person, text: str) -> str:
        room_id = self.dm_room(author)
        event_id = self.client(author).send(room_id, {"msgtype": "m.text", "body": text})
        return f"{room_id}|{event_id}"

    # --- the bot --------------------------------------------------------------------

    def ingest(self) -> None:
        """Read until two reads in a row bring nothing (an invite takes one to join)."""
        ingest = self.app.ingests["matrix"]
        self._cursor_before = ingest.cursors.load("matrix")
        quiet = 0
        for _ in range(20):
            quiet = quiet + 1 if ingest.step() == 0 else 0
            if quiet == 2:
                return
        pytest.fail("the Matrix reader never went quiet")

    def replay(self) -> None:
        ingest = self.app.ingests["matrix"]
        assert self._cursor_before is not None
        ingest.cursors.save("matrix", self._cursor_before)
        self.ingest()

    def restart(self) -> None:
        clock = self.world.clock
        self.close(clients=False)
        self.world = self._build()
        self.world.clock = clock

    def received(self, person: Person) -> list[str]:
        self.app.delivery.deliver_due()
        return [
            str(content["body"])
            for _, members, content in self.client(person).messages_from(self.bot_at)
            if members == 2 or person.user_id in content.get("m.mentions", {}).get("user_ids", [])
        ]

    def dms(self, person: Person) -> list[str]:
        self.app.delivery.deliver_due()
        return [
            str(content["body"])
            for _, members, content in self.client(person).messages_from(self.bot_at)
            if members == 2
        ]

    def rename(self, person: Person, new_handle: str) -> None:
        # Matrix ids never change: what people rename is their display name.
        self.client(person).set_name(new_handle.title())

    def delete(self, author: Person, post_id: str) -> None:
        room_id, event_id = split_post_id(post_id)
        self.client(author).redact(room_id, event_id)

    def bot_posts(self, text: str) -> str:
        event_id = self.bot.send(self.room, {"msgtype": "m.text", "body": text})
        return f"{self.room}|{event_id}"

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The homeserver unreachable: the reader's session points at a closed port."""
        ingest = self.app.ingests["matrix"]
        real = ingest.reader
        dead = MatrixConnection(
            "http://127.0.0.1:9",
            self.bot_at,
            self.settings.access_token.get_secret_value(),
            device_id=self.settings.device_id,
            request_timeout_s=5,
        )
        ingest.reader = MatrixReader(dead)
        try:
            yield
            before = ingest.cursors.load("matrix")
            with pytest.raises(MatrixUnavailableError):
                ingest.step()
            assert ingest.cursors.load("matrix") == before  # nothing skipped
        finally:
            ingest.reader = real
            dead.close()
