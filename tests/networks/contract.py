"""The contract every network adapter passes (the sandbox included).

A network's test module subclasses ``NetworkContract`` and provides a ``harness``
fixture that drives the real network (its server, its client library) the way people
would: post, write to the bot, rename, delete. The tests then check what envoi did
through its services, the same for every network.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from envoi.bootstrap import Envoi
from envoi.domain.model import IntentState, Member, PayeeKind, Privacy
from envoi.services.ports import CardDetails

CARD = CardDetails("4242424242424242", 12, 2034, "123")
PIN = "2580"


@dataclass
class Person:
    """Someone with an account on the network, and a wallet unless ``member`` is None."""

    name: str
    member: Member | None
    user_id: str  # the network's immutable id
    handle: str  # as the network writes it, without the at sign
    secret: object = None  # whatever the harness needs to act as them (token, client)

    @property
    def at(self) -> str:
        return f"@{self.handle}"


class Harness(Protocol):
    network: str
    app: Envoi
    bot_at: str  # the bot as people type it ("@SmoneyFR", "@envoi:localhost")

    def person(self, name: str, *, funds: int = 0, member: bool = True) -> Person:
        """A network account; with ``member``, a wallet linked by the challenge code."""
        ...

    def link(self, person: Person, member: Member) -> None:
        """Link by proof of ownership: ask for a code, send it to the bot from the account."""
        ...

    def mention(self, author: Person, text: str) -> str:
        """A public post (the text names the bot); returns its post id."""
        ...

    def dm(self, author: Person, text: str) -> str:
        """A direct message to the bot; returns its post id."""
        ...

    def ingest(self) -> None:
        """Run the network's reader until everything posted so far is stored."""
        ...

    def replay(self) -> None:
        """Deliver the events of the last ``ingest`` again (a retry, a rewound cursor)."""
        ...

    def restart(self) -> None:
        """A fresh reader and service assembly, as after a crash: only the database stays."""
        ...

    def received(self, person: Person) -> list[str]:
        """Everything the bot sent that reaches ``person`` (replies naming them, DMs)."""
        ...

    def dms(self, person: Person) -> list[str]:
        """Only the private messages the bot sent ``person``."""
        ...

    def rename(self, person: Person, new_handle: str) -> None: ...

    def delete(self, author: Person, post_id: str) -> None: ...

    def bot_posts(self, text: str) -> str:
        """The bot's own account posts ``text`` (it must never act on it)."""
        ...

    def outage(self) -> AbstractContextManager[None]:
        """While inside, the network cannot be reached by the reader."""
        ...


def enrol(harness: Harness, person: Person, *, email: str, funds: int, topup_key: str) -> None:
    """Gives ``person`` a wallet with the contract's PIN, linked by the harness's own proof,
    topped up with ``funds`` when given. Public: the contract reads the amount in the bot's
    public reply (the discreet default has its own tests in test_new_user.py)."""
    created = harness.app.members.register(
        email=email,
        password="long enough password",
        display_name=person.name.title(),
        locale="fr",
        privacy=Privacy.PUBLIC,
    )
    harness.app.members.set_pin(created.id, PIN)
    harness.link(person, created)
    person.member = created
    if funds:
        topup = harness.app.funding.top_up(created.id, funds, CARD, request_key=topup_key)
        assert topup.status == "succeeded"


def pending(app: Envoi, person: Person) -> list[str]:
    assert person.member is not None
    return [i.id for i in app.wallet.to_confirm(person.member.id)]


def balance(app: Envoi, person: Person) -> int:
    assert person.member is not None
    return app.wallet.balance(person.member.id).posted


class NetworkContract:
    """Each test is one promise an adapter makes; the harness fixture picks the network."""

    def test_a_mention_becomes_an_intent_for_the_immutable_id(self, harness: Harness) -> None:
        alice = harness.person("alice", funds=20_00)
        bob = harness.person("bob")
        harness.mention(alice, f"{harness.bot_at} #envoyer 5€ {bob.at}")
        harness.ingest()
        (intent_id,) = pending(harness.app, alice)
        assert alice.member is not None
        intent = harness.app.wallet.intent(alice.member.id, intent_id)
        assert intent is not None
        assert intent.payee.network == harness.network
        assert intent.payee.network_user_id == bob.user_id
        assert intent.amount.minor == 5_00

    def test_a_dm_becomes_a_private_intent_answered_privately(self, harness: Harness) -> None:
        alice = harness.person("alice", funds=20_00)
        bob = harness.person("bob")
        harness.dm(alice, f"#envoyer 3€ {bob.at}")
        harness.ingest()
        (intent_id,) = pending(harness.app, alice)
        assert alice.member is not None
        intent = harness.app.wallet.intent(alice.member.id, intent_id)
        assert intent is not None
        assert intent.privacy is Privacy.PRIVATE
        harness.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
        assert any("3,00" in text for text in harness.dms(bob))
        assert any("3,00" in text for text in harness.dms(alice))
        assert balance(harness.app, bob) == 3_00

    def test_reply_reaches_the_payee_on_the_network(self, harness: Harness) -> None:
        alice = harness.person("alice", funds=20_00)
        bob = harness.person("bob")
        harness.mention(alice, f"{harness.bot_at} #envoyer 5€ {bob.at}")
        harness.ingest()
        (intent_id,) = pending(harness.app, alice)
        assert alice.member is not None
        harness.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
        assert any("5,00" in text for text in harness.received(bob))
        assert balance(harness.app, bob) == 5_00

    def test_a_rename_keeps_the_identity_and_the_money(self, harness: Harness) -> None:
        alice = harness.person("alice", funds=20_00)
        bob = harness.person("bob", member=False)
        harness.mention(alice, f"{harness.bot_at} #envoyer 4€ {bob.at}")
        harness.ingest()
        (intent_id,) = pending(harness.app, alice)
        assert alice.member is not None
        claimable = harness.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
        assert claimable.state is IntentState.CLAIMABLE
        assert claimable.payee.kind is PayeeKind.IDENTITY
        # Both change their names; the money follows the ids.
        harness.rename(alice, f"{alice.handle}2")
        harness.rename(bob, f"{bob.handle}2")
        bob_member = harness.app.members.register(
            email=f"bob-{harness.network}@example.org",
            password="long enough password",
            display_name="Bob",
            locale="fr",
        )
        harness.link(bob, bob_member)
        bob.member = bob_member
        assert balance(harness.app, bob) == 4_00
        # The renamed payer still pays with the same wallet.
        harness.mention(alice, f"{harness.bot_at} #envoyer 1€ {bob.at}")
        harness.ingest()
        assert len(pending(harness.app, alice)) == 1

    def test_a_deleted_post_cancels(self, harness: Harness) -> None:
        alice = harness.person("alice", funds=20_00)
        bob = harness.person("bob")
        post_id = harness.mention(alice, f"{harness.bot_at} #envoyer 5€ {bob.at}")
        harness.ingest()
        (intent_id,) = pending(harness.app, alice)
        harness.delete(alice, post_id)
        harness.ingest()
        assert alice.member is not None
        intent = harness.app.wallet.intent(alice.member.id, intent_id)
        assert intent is not None
        assert intent.state is IntentState.CANCELLED
        assert harness.app.wallet.balance(alice.member.id).available == 20_00

    def test_the_same_event_twice_is_one_post(self, harness: Harness) -> None:
        alice = harness.person("alice", funds=20_00)
        bob = harness.person("bob")
        harness.mention(alice, f"{harness.bot_at} #envoyer 5€ {bob.at}")
        harness.ingest()
        harness.replay()
        assert len(pending(harness.app, alice)) == 1
        assert alice.member is not None
        assert harness.app.wallet.balance(alice.member.id).available == 15_00

    def test_the_bots_own_posts_are_ignored(self, harness: Harness) -> None:
        harness.person("alice", funds=20_00)
        bob = harness.person("bob", funds=20_00)
        harness.bot_posts(f"{harness.bot_at} #envoyer 5€ {bob.at}")
        harness.ingest()
        assert pending(harness.app, bob) == []
        assert balance(harness.app, bob) == 20_00

    def test_an_outage_is_retried_and_nothing_is_lost(self, harness: Harness) -> None:
        alice = harness.person("alice", funds=20_00)
        bob = harness.person("bob")
        with harness.outage():
            harness.mention(alice, f"{harness.bot_at} #envoyer 2€ {bob.at}")
            harness.dm(alice, f"#envoyer 1€ {bob.at}")
        # A new process picks up from the stored cursor.
        harness.restart()
        harness.ingest()
        assert len(pending(harness.app, alice)) == 2

    def test_a_link_code_from_another_account_links_nobody(self, harness: Harness) -> None:
        mallory = harness.person("mallory")
        bob = harness.person("bob", member=False)
        assert mallory.member is not None
        issued = harness.app.linking.start(mallory.member.id, harness.network, bob.handle)
        # Mallory sends the code for Bob's account from her own account.
        harness.dm(mallory, issued.code)
        harness.ingest()
        assert [i.network_user_id for i in harness.app.members.identities(mallory.member.id)] == [
            mallory.user_id
        ]
