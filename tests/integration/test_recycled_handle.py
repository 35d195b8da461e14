"""A recycled handle (fix 4 of issue 6): Bob renames, Mallory takes @bob and his name.

Money follows the network user id, so Alice's ``#envoyer 7€ @bob`` now goes to Mallory.
Before the PIN, Alice must read that @bob is not whom she paid before and that the account
is new; the bot's reply must not call @bob the payee as if nothing changed; and Bob's
linked accounts show his new handle once the network reports it.
"""

from __future__ import annotations

from sqlalchemy import Engine, update

from envoi.adapters.networks.sandbox.tables import sandbox_accounts
from envoi.domain.model import IntentState, PayeeWarning
from envoi.web.api import intent_view
from tests.integration.flow_app import BOT, PIN, World


def test_rename_and_takeover_is_flagged_before_the_pin(world: World) -> None:
    alice = world.person("alice", funds=50_00)
    bob = world.person("bob")
    world.clock.advance(days=60)  # the accounts are old by now: nothing to flag
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (first,) = world.app.wallet.to_confirm(alice.member.id)
    assert first.payee_warnings == ()
    world.app.lifecycle.confirm(alice.member.id, first.id, PIN)

    # Bob renames; Mallory opens an account with the freed handle and Bob's name.
    world.app.sandbox.rename(bob.sandbox_id, "bobby")
    mallory = world.person("bob", member=False)
    assert mallory.sandbox_id != bob.sandbox_id
    world.clock.advance(hours=1)
    world.post(alice, f"@{BOT} #envoyer 7€ @bob")
    (second,) = world.app.wallet.to_confirm(alice.member.id)
    assert second.payee.network_user_id == mallory.sandbox_id
    assert second.payee_warnings == (PayeeWarning.HANDLE_REASSIGNED, PayeeWarning.NEW_ACCOUNT)

    # The API representation says it in words, in Alice's language (French).
    view = intent_view(second, alice.member, world.app.settings.new_account_days)
    codes = [w["code"] for w in view["payee_warnings"]]
    assert codes == ["handle_reassigned", "new_account"]
    assert "n’est plus le compte que vous avez payé" in view["payee_warnings"][0]["message"]
    assert "moins de 30 jours" in view["payee_warnings"][1]["message"]

    # The reply sends Alice to check who it is; it does not simply say "confirm … to @bob".
    replies = world.replies(alice)
    assert any("vérifiez qui est @bob" in text for text in replies), replies

    # Bob writes to the bot under his new handle (no command): his linked account follows.
    world.post(bob, f"@{BOT} bonjour")
    (linked,) = world.app.members.identities(bob.member.id)
    assert linked.handle == "bobby"
    assert linked.network_user_id == bob.sandbox_id

    # Alice cancels; nothing reached Mallory.
    world.app.lifecycle.cancel(alice.member.id, second.id)
    assert world.app.wallet.intent(alice.member.id, second.id).state is IntentState.CANCELLED  # type: ignore[union-attr]


def test_a_stale_linked_handle_is_flagged_even_without_history(world: World) -> None:
    """Carol never paid Bob, but Bob's wallet linked @bob: a new @bob is someone else."""
    carol = world.person("carol", funds=20_00)
    bob = world.person("bob")
    world.clock.advance(days=60)
    world.app.sandbox.rename(bob.sandbox_id, "bobby")
    world.person("bob", member=False)
    world.clock.advance(days=60)  # even an account that is no longer new
    world.post(carol, f"@{BOT} #envoyer 3€ @bob")
    (intent,) = world.app.wallet.to_confirm(carol.member.id)
    assert intent.payee_warnings == (PayeeWarning.HANDLE_REASSIGNED,)


def test_a_known_payee_is_not_flagged_and_a_new_one_is(world: World) -> None:
    alice = world.person("alice", funds=50_00)
    world.person("dan")  # created "now": a new account on the network
    world.post(alice, f"@{BOT} #envoyer 2€ @dan")
    (first,) = world.app.wallet.to_confirm(alice.member.id)
    assert first.payee_warnings == (PayeeWarning.NEW_ACCOUNT,)
    world.app.lifecycle.confirm(alice.member.id, first.id, PIN)
    # Paid once: the same account, still young, is someone Alice knows.
    world.post(alice, f"@{BOT} #envoyer 2€ @dan")
    (second,) = world.app.wallet.to_confirm(alice.member.id)
    assert second.payee_warnings == ()


def test_a_disguised_network_name_is_flagged(world: World, engine: Engine) -> None:
    """A real network lets anyone call themselves ``Вob Durand`` (Cyrillic В); the sandbox
    refuses it, so the name is changed underneath it, as another network would serve it."""
    alice = world.person("alice", funds=20_00)
    world.person("eve", member=False)
    with engine.begin() as conn:
        conn.execute(
            update(sandbox_accounts)
            .where(sandbox_accounts.c.handle == "eve")
            .values(display_name="\u0412ob Durand")
        )
    world.clock.advance(days=60)
    world.post(alice, f"@{BOT} #envoyer 2€ @eve")
    (intent,) = world.app.wallet.to_confirm(alice.member.id)
    assert intent.payee_warnings == (PayeeWarning.LOOKALIKE_NAME,)
