"""The demo story that `make run` seeds is ready to click through, every time."""

from __future__ import annotations

from envoi.demo import PIN, already_seeded, fresh_token_for_carol, refresh_pending, seed
from envoi.domain.model import IntentState
from tests.integration.flow_app import World


def test_demo_story(world: World) -> None:
    app = world.app
    assert not already_seeded(app)
    story = seed(app)
    assert already_seeded(app)
    assert {p.handle for p in story.people} == {"alice", "bob", "restos_demo", "carol"}
    alice = app.members.authenticate(app.members.issue_token("alice@demo.envoi", "demo-password"))
    (waiting,) = app.wallet.to_confirm(alice.id)
    assert waiting.id == story.pending_intent_id
    assert (waiting.payee.display_name, waiting.amount.minor) == ("Bob Durand", 5_00)
    assert app.wallet.balance(alice.id).available == 45_00
    # Seeding again (make run twice) keeps the one waiting payment.
    assert refresh_pending(app) == waiting.id
    # Once Alice has confirmed, the next start gives her a fresh one to try.
    assert app.lifecycle.confirm(alice.id, waiting.id, PIN).state is IntentState.SETTLED
    fresh = refresh_pending(app)
    assert fresh is not None
    assert fresh != waiting.id


def test_a_later_start_gives_carol_a_token_she_can_claim_with(world: World) -> None:
    app = world.app
    story = seed(app)
    (old,) = [p.sandbox_token for p in story.people if p.handle == "carol"]
    token = fresh_token_for_carol(app)
    assert token is not None
    assert app.sandbox.authenticate(old) is None  # regenerated: the old one stops working
    carol = app.members.register(
        email="carol@example.org",
        password="long enough password",
        display_name="Carol",
        locale="fr",
    )
    app.members.link_identity(carol.id, "sandbox", token)
    assert fresh_token_for_carol(app) is None  # linked: nothing left to claim with it
