"""Fixtures for the Bluesky tests: a real local AT Protocol network (one per test run, shared
by the xdist workers), accounts on it, the bot's session, and the chat stand-in."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from atproto_client import Client
from atproto_client.client.session import Session
from atproto_client.request import Request

from envoi.adapters.networks.bluesky.gateway import BlueskyGateway
from envoi.adapters.networks.bluesky.session import BlueskyConfig, BotSession
from tests.servers.atproto import network as atproto_network
from tests.servers.atproto.network import AtprotoNetwork
from tests.servers.bsky_chat import ChatStandIn, running_chat_standin


@pytest.fixture(scope="session")
def atproto() -> Iterator[AtprotoNetwork]:
    network, _started_s = atproto_network.acquire()
    try:
        yield network
    finally:
        atproto_network.release()


@pytest.fixture(scope="session")
def chat_standin(atproto: AtprotoNetwork) -> Iterator[ChatStandIn]:
    with running_chat_standin(atproto.plc_url) as standin:
        yield standin


@dataclass
class Person:
    """An account on the local network, logged in with its own client (as its owner)."""

    did: str
    handle: str
    password: str
    client: Client
    network: AtprotoNetwork
    clones: list[Client] = field(default_factory=list)

    def close(self) -> None:
        for client in (self.client, *self.clones):
            client.request.close()

    def chat(self, standin: ChatStandIn) -> Client:
        chat = self.client.with_proxy("bsky_chat", standin.did)
        self.clones.append(chat)
        return chat


def unique_handle(name: str) -> str:
    # One network serves the whole run: every test gets handles of its own.
    return f"{name}-{secrets.token_hex(3)}.test"


def client(network: AtprotoNetwork) -> Client:
    # Generous timeouts: the test machine's two cores may be busy.
    return Client(base_url=network.pds_url, request=Request(timeout=httpx.Timeout(60)))


def create_person(network: AtprotoNetwork, name: str) -> Person:
    handle = unique_handle(name)
    password = secrets.token_urlsafe(12)
    person_client = client(network)
    made = person_client.com.atproto.server.create_account(
        {"handle": handle, "email": f"{handle}@example.com", "password": password}
    )
    # The new account's session, as createAccount returns it: no second password check.
    session = Session(handle, str(made.did), made.access_jwt, made.refresh_jwt, network.pds_url)
    person_client.login(session_string=session.encode(), fetch_bsky_profile=False)
    person_client.com.atproto.repo.put_record(
        {
            "repo": str(made.did),
            "collection": "app.bsky.actor.profile",
            "rkey": "self",
            "record": {"$type": "app.bsky.actor.profile", "displayName": name.capitalize()},
        }
    )
    return Person(str(made.did), handle, password, person_client, network)


@pytest.fixture
def person(atproto: AtprotoNetwork) -> Iterator[Callable[[str], Person]]:
    made: list[Person] = []

    def make(name: str) -> Person:
        made.append(create_person(atproto, name))
        return made[-1]

    yield make
    for someone in made:
        someone.close()


@pytest.fixture
def bot(person: Callable[[str], Person]) -> Person:
    return person("smoney")


@pytest.fixture
def bot_session(bot: Person, chat_standin: ChatStandIn) -> Iterator[BotSession]:
    # What an operator does once: an app password allowed to use direct messages.
    app_password = bot.client.com.atproto.server.create_app_password(
        {"name": "envoi", "privileged": True}
    ).password
    session = BotSession(
        BlueskyConfig(bot.network.pds_url, bot.handle, str(app_password), chat_standin.did)
    )
    yield session
    session.close()


@pytest.fixture
def gateway(bot_session: BotSession) -> BlueskyGateway:
    return BlueskyGateway(bot_session)
