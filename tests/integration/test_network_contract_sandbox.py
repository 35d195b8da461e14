"""The network contract on the sandbox network (its reader is the catch-up job)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from envoi.adapters.networks.sandbox.store import NETWORK
from envoi.bootstrap import Envoi
from envoi.domain.model import Member
from envoi.services.ports import InboundPost
from tests.integration.flow_app import World, make_world
from tests.networks.contract import NetworkContract, Person, enrol


class _Down:
    """An intake the network cannot reach: every delivery fails."""

    def receive_post(self, post: InboundPost) -> None:
        raise ConnectionError("network unreachable")

    def receive_deletion(self, network: str, post_id: str) -> None:
        raise ConnectionError("network unreachable")


class SandboxHarness:
    network = NETWORK

    def __init__(self, world: World, database_url: str) -> None:
        self.world = world
        self.database_url = database_url
        self.bot_at = f"@{world.app.settings.bot_handle}"
        self._down = False
        self._last: list[str] = []

    @property
    def app(self) -> Envoi:
        return self.world.app

    def person(self, name: str, *, funds: int = 0, member: bool = True) -> Person:
        account = self.app.sandbox.create_account(name, name.title())
        person = Person(name, None, account.account.id, name, account.token)
        if member:
            enrol(self, person, email=f"{name}@example.org", funds=funds, topup_key=f"s-{name}")
        return person

    def link(self, person: Person, member: Member) -> None:
        issued = self.app.linking.start(member.id, NETWORK, person.handle)
        self.dm(person, f"Mon code : {issued.code}")
        self.ingest()

    def _deliver(self, post_id: str) -> str:
        self._last.append(post_id)
        self.app.sandbox.deliver(post_id, _Down() if self._down else self.app.intake)
        return post_id

    def mention(self, author: Person, text: str) -> str:
        return self._deliver(self.app.sandbox.post(author.user_id, text).id)

    def dm(self, author: Person, text: str) -> str:
        bot = self.app.settings.bot_handle
        post = self.app.sandbox.post(author.user_id, text, visibility="direct", to=bot)
        return self._deliver(post.id)

    def ingest(self) -> None:
        self.app.sandbox.deliver_pending(self.app.intake)

    def replay(self) -> None:
        for post_id in self._last:
            post = self.app.sandbox.get_post(post_id, viewer_id=None) or self._direct(post_id)
            self.app.intake.receive_post(post.to_inbound())

    def _direct(self, post_id: str):  # type: ignore[no-untyped-def]
        bot = self.app.sandbox.ensure_bot_account()
        return self.app.sandbox.get_post(post_id, viewer_id=bot.id)

    def restart(self) -> None:
        clock = self.world.clock
        self.world.app.engine.dispose()
        self.world = make_world(self.database_url)
        self.world.clock = clock

    def received(self, person: Person) -> list[str]:
        self.app.delivery.deliver_due()
        return [p.text for p in self.app.sandbox.inbox(person.user_id)]

    def dms(self, person: Person) -> list[str]:
        self.app.delivery.deliver_due()
        return [p.text for p in self.app.sandbox.inbox(person.user_id) if p.visibility == "direct"]

    def rename(self, person: Person, new_handle: str) -> None:
        self.app.sandbox.rename(person.user_id, new_handle)
        person.handle = new_handle

    def delete(self, author: Person, post_id: str) -> None:
        self.app.sandbox.delete(author.user_id, post_id)
        self.app.sandbox.deliver(post_id, self.app.intake)

    def bot_posts(self, text: str) -> str:
        bot = self.app.sandbox.ensure_bot_account()
        post = self.app.sandbox.post(bot.id, text)
        # The store never routes the bot's posts to it; hand it over anyway: the intake
        # must ignore it on its own.
        self.app.intake.receive_post(post.to_inbound())
        return post.id

    @contextmanager
    def outage(self) -> Iterator[None]:
        self._down = True
        try:
            yield
        finally:
            self._down = False


@pytest.fixture
def harness(world: World, database_url: str) -> Iterator[SandboxHarness]:
    built = SandboxHarness(world, database_url)
    yield built
    built.world.app.engine.dispose()


class TestSandboxContract(NetworkContract):
    pass
