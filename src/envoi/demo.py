"""A short demo story, seeded through the same services a user would go through."""

from __future__ import annotations

from dataclasses import dataclass

from envoi.bootstrap import Envoi, prepare
from envoi.domain.model import MemberKind, Privacy
from envoi.services.ports import CardDetails

PASSWORD = "demo-password"
PIN = "1234"
TEST_CARD = CardDetails("4242424242424242", 12, 2034, "123")
# The demo organisation's legal identity (a made-up registry number: this is a demo).
ORGANISATION_LEGAL_NAME = "Association Les Restaurants du Cœur – Les Relais du Cœur (démo)"
ORGANISATION_REGISTRY_ID = "RNA W000000000"


@dataclass(frozen=True)
class DemoPerson:
    name: str
    email: str
    handle: str
    sandbox_token: str


@dataclass(frozen=True)
class DemoStory:
    people: list[DemoPerson]
    pending_intent_id: str | None


def fresh_token_for_carol(app: Envoi) -> str | None:
    """Carol has no wallet yet; trying the claim needs her sandbox token, which is only
    ever shown once, so a later start issues her a new one."""
    carol = app.sandbox.get_by_handle("carol")
    if carol is None:
        return None
    with app.ctx.uow() as uow:
        if uow.identities.member_for("sandbox", carol.id) is not None:
            return None  # she has linked it since: nothing to claim any more
    return app.sandbox.new_token(carol.id)


def already_seeded(app: Envoi) -> bool:
    with app.ctx.uow() as uow:
        return uow.members.by_email("alice@demo.envoi") is not None


def seed(app: Envoi) -> DemoStory:
    prepare(app)
    people: list[DemoPerson] = []
    member_ids: dict[str, str] = {}
    cast = [
        ("Alice Martin", "alice@demo.envoi", "alice", MemberKind.PERSON, 50_00),
        ("Bob Durand", "bob@demo.envoi", "bob", MemberKind.PERSON, 20_00),
        ("Les Restos du Cœur (démo)", "asso@demo.envoi", "restos_demo", MemberKind.ORGANISATION, 0),
    ]
    for name, email, handle, kind, funds in cast:
        member = app.members.register(
            email=email,
            password=PASSWORD,
            display_name=name,
            locale="fr",
            kind=kind,
            verified=True,
            privacy=Privacy.PUBLIC,  # the story shows the public replies with their amounts
            legal_name=ORGANISATION_LEGAL_NAME if kind is MemberKind.ORGANISATION else None,
            registry_id=ORGANISATION_REGISTRY_ID if kind is MemberKind.ORGANISATION else None,
        )
        # The demo's published PIN is an obvious one on purpose; nobody else may choose it.
        app.members.set_pin(member.id, PIN, obvious_allowed=True)
        account = app.sandbox.create_account(handle, name)
        app.members.link_identity(member.id, "sandbox", account.token)
        if funds:
            app.funding.top_up(member.id, funds, TEST_CARD, request_key=f"demo-{handle}")
        people.append(DemoPerson(name, email, handle, account.token))
        member_ids[handle] = member.id
    # Carol is on the network but has no wallet yet: money sent to her waits in escrow.
    carol = app.sandbox.create_account("carol", "Carol Petit")
    people.append(DemoPerson("Carol Petit", "", "carol", carol.token))
    app.members.create_pot(
        member_ids["bob"], hashtag="AnnivJulie", title="Cadeau pour Julie", goal_minor=100_00
    )

    return DemoStory(people, refresh_pending(app))


def refresh_pending(app: Envoi) -> str | None:
    """The story's first step, ready to confirm: Alice's post to Bob.

    Posted again when the last one was confirmed, cancelled or has expired, so a
    later ``make run`` still opens on a payment waiting for Alice's PIN.
    """
    alice = app.sandbox.get_by_handle("alice")
    with app.ctx.uow() as uow:
        member = uow.members.by_email("alice@demo.envoi")
    if alice is None or member is None:
        return None
    waiting = app.wallet.to_confirm(member.id)
    if waiting:
        return waiting[0].id
    post = app.sandbox.post(alice.id, f"@{app.settings.bot_handle} #envoyer 5€ @bob")
    app.sandbox.deliver(post.id, app.intake)
    app.delivery.deliver_due()
    with app.ctx.uow() as uow:
        intent = uow.intents.by_source("sandbox", post.id)
    return intent.id if intent else None
