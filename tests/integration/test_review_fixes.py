"""Regression tests for the money-safety review: each proves a fixed hole stays closed."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from envoi.adapters.db.tables import topups
from envoi.adapters.psp.sandbox import sandbox_psp_charges
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import IntentState, Privacy
from envoi.services.funding import Funding
from tests.integration.flow_app import BOT, CARD, PIN, World, make_world


def together(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(i)`` in ``count`` threads released at once; the errors they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_one_key_one_charge_however_many_retries_at_once(world: World, engine: Engine) -> None:
    alice = world.person("alice")
    errors = together(
        8, lambda _: world.app.funding.top_up(alice.member.id, 10_00, CARD, request_key="same")
    )
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(topups)).scalar() == 1
        charges = conn.execute(select(func.count()).select_from(sandbox_psp_charges)).scalar()
    assert charges == 1
    assert world.posted(alice) == 10_00


def test_a_lost_processor_answer_is_reconciled(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = world.person("alice")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("crash after the charge")

    monkeypatch.setattr(Funding, "_apply", crash)
    with pytest.raises(RuntimeError):
        world.app.funding.top_up(alice.member.id, 50_00, CARD, request_key=None)
    monkeypatch.undo()
    assert world.posted(alice) == 0
    assert world.app.funding.reconcile() == 0  # too fresh: the client may still retry
    world.clock.advance(minutes=3)
    assert world.app.funding.reconcile() == 1
    assert world.app.funding.reconcile() == 0
    assert world.posted(alice) == 50_00


def test_concurrent_pin_guesses_get_no_more_than_the_allowed_attempts(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)
    codes: list[ErrorCode] = []

    def guess(i: int) -> None:
        try:
            world.app.lifecycle.confirm(alice.member.id, intent_id, f"{1000 + i}")
        except EnvoiError as exc:
            codes.append(exc.code)

    assert together(12, guess) == []
    assert codes.count(ErrorCode.WRONG_PIN) == 2
    assert codes.count(ErrorCode.PIN_LOCKED) == 10
    with pytest.raises(EnvoiError) as locked:
        world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert locked.value.code is ErrorCode.PIN_LOCKED


def test_lockouts_grow_and_the_member_is_told(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, pin_lockout_s=60, confirmation_window_s=3600)
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)
    minutes = []
    for _ in range(2):
        for wrong in ("0000", "1111", "2222"):
            with pytest.raises(EnvoiError) as refused:
                world.app.lifecycle.confirm(alice.member.id, intent_id, wrong)
        assert refused.value.code is ErrorCode.PIN_LOCKED
        minutes.append(refused.value.params["minutes"])
        world.clock.advance(seconds=60 * refused.value.params["minutes"] + 1)
    assert minutes == [1, 2]
    texts = [n["text"] for n in world.app.wallet.notifications(alice.member.id)]
    assert sum("bloqué" in t for t in texts) == 2
    world.app.engine.dispose()


def test_changing_a_pin_takes_the_password_and_keeps_a_lockout(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    with pytest.raises(EnvoiError) as no_password:
        world.app.members.set_pin(alice.member.id, "9371")
    # Said as what is missing, not as a wrong e-mail or password.
    assert no_password.value.code is ErrorCode.PASSWORD_REQUIRED
    with pytest.raises(EnvoiError) as wrong_password:
        world.app.members.set_pin(alice.member.id, "9371", current_password="wrong password")
    assert wrong_password.value.code is ErrorCode.INVALID_CREDENTIALS
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)
    for wrong in ("0000", "1111", "2222"):
        with pytest.raises(EnvoiError):
            world.app.lifecycle.confirm(alice.member.id, intent_id, wrong)
    world.app.members.set_pin(alice.member.id, "9371", current_password="long enough password")
    with pytest.raises(EnvoiError) as still:
        world.app.lifecycle.confirm(alice.member.id, intent_id, "9371")
    assert still.value.code is ErrorCode.PIN_LOCKED


def test_replies_name_the_posting_account_as_it_is_called_now(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    # Alice also links a pseudonymous account; she pays from it.
    fox = world.app.sandbox.create_account("anon_fox", "Fox")
    world.app.members.link_identity(alice.member.id, "sandbox", fox.token)
    post = world.app.sandbox.post(fox.account.id, f"@{BOT} #envoyer 5€ @bob")
    world.app.sandbox.deliver(post.id, world.app.intake)
    world.app.delivery.deliver_due()
    replies = [p.text for p in world.app.sandbox.timeline() if p.in_reply_to == post.id]
    assert replies
    assert all("@alice" not in text for text in replies)
    assert any("@anon_fox" in text for text in replies)
    # Renamed: the next reply uses the new name, never the old one a stranger may take.
    world.app.sandbox.rename(alice.sandbox_id, "alice_new")
    world.app.sandbox.create_account("alice", "Not Alice")
    second = world.app.sandbox.post(alice.sandbox_id, f"@{BOT} #envoyer 1€ @bob")
    world.app.sandbox.deliver(second.id, world.app.intake)
    world.app.delivery.deliver_due()
    replies = [p.text for p in world.app.sandbox.timeline() if p.in_reply_to == second.id]
    assert any("@alice_new" in text for text in replies)
    assert all("@alice " not in text and "@alice," not in text for text in replies)


def test_refusals_of_a_private_member_go_by_dm(world: World) -> None:
    alice = world.person("alice", funds=5_00)
    world.person("bob")
    world.app.members.update_profile(alice.member.id, privacy=Privacy.PRIVATE)
    post_id = world.post(alice, f"@{BOT} #envoyer 20€ @bob")
    world.app.delivery.deliver_due()
    assert [p for p in world.app.sandbox.timeline() if p.in_reply_to == post_id] == []
    inbox = world.app.sandbox.inbox(alice.sandbox_id)
    assert any(p.visibility == "direct" and "Solde insuffisant" in p.text for p in inbox)


def test_asking_does_not_reveal_the_asked_persons_limits(world: World) -> None:
    alice = world.person("alice", funds=20_00)  # unverified: 150 € per payment
    bob = world.person("bob")
    world.post(bob, f"@{BOT} #demander 200€ @alice")
    assert len(world.pending(alice)) == 1  # no "above her cap" reply for Bob to read
    world.app.delivery.deliver_due()
    assert all("plafond" not in p.text for p in world.app.sandbox.timeline())
    # Agreeing is where the cap applies.
    (intent_id,) = world.pending(alice)
    with pytest.raises(EnvoiError) as capped:
        world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert capped.value.code is ErrorCode.LIMIT_PER_PAYMENT


def test_a_deletion_that_overtakes_its_post_wins(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    post = world.app.sandbox.post(alice.sandbox_id, f"@{BOT} #envoyer 5€ @bob")
    world.app.intake.receive_deletion("sandbox", post.id)
    world.app.intake.receive_post(post.to_inbound())
    assert world.pending(alice) == []
    assert world.available(alice) == 20_00


def test_a_payee_who_joins_before_the_confirmation_is_paid_directly(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    carol = world.person("carol", member=False)
    world.post(alice, f"@{BOT} #envoyer 5€ @carol")
    (intent_id,) = world.pending(alice)
    member = world.app.members.register(
        email="carol@example.org",
        password="long enough password",
        display_name="Carol",
        locale="fr",
    )
    world.app.members.link_identity(member.id, "sandbox", carol.token)
    assert world.app.lifecycle.confirm(alice.member.id, intent_id, PIN).state is IntentState.SETTLED
    assert world.app.wallet.balance(member.id).posted == 5_00


def test_a_flood_gets_one_rate_limit_reply_per_minute(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, commands_per_minute=2)
    alice = world.person("alice", funds=50_00)
    world.person("bob")
    for _ in range(10):
        world.post(alice, f"@{BOT} #envoyer 1€ @bob")
    replies = world.replies(alice)
    assert sum("Trop de commandes" in t for t in replies) == 1
    world.app.engine.dispose()


def test_the_person_who_asked_hears_that_the_request_lapsed(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    bob = world.person("bob")
    world.post(bob, f"@{BOT} #demander 2€ @alice")
    world.clock.advance(seconds=world.app.settings.confirmation_window_s + 1)
    assert world.app.lifecycle.expire_due() == 1
    bob_hears = [n["text"] for n in world.app.wallet.notifications(bob.member.id)]
    assert "Alice n’a pas répondu à temps à votre demande de 2,00\xa0€." in bob_hears
    assert world.posted(alice) == 20_00


def test_a_declined_top_up_says_why_in_words(world: World) -> None:
    from envoi.services.ports import CardDetails

    alice = world.person("alice")
    # Declined on the spot: the answer says why (the form shows it); no notification too.
    card = CardDetails("4000 0000 0000 9995", 12, 2034, "123")
    declined = world.app.funding.top_up(alice.member.id, 10_00, card, request_key="x")
    assert (declined.status, declined.decline_code) == ("declined", "insufficient_funds")
    assert world.app.wallet.notifications(alice.member.id) == []
    # Declined later (3-D Secure failed after the person left): a notification, in words.
    challenge = CardDetails("4000 0000 0000 3220", 12, 2034, "123")
    waiting = world.app.funding.top_up(alice.member.id, 10_00, challenge, request_key="y")
    processor = world.app.ctx.processor
    processor.complete_3ds(waiting.processor_ref, "fail")  # type: ignore[attr-defined]
    world.app.funding.charge_updated(waiting.processor_ref)
    texts = [n["text"] for n in world.app.wallet.notifications(alice.member.id)]
    assert any("authentification 3-D Secure échouée" in t for t in texts)
    assert all("authentication_failed" not in t for t in texts)


def test_pots_refuse_with_their_own_reasons(world: World) -> None:
    bob = world.person("bob")
    pots = world.app.members
    pots.create_pot(bob.member.id, hashtag="AnnivJulie", title="Julie", goal_minor=None)
    cases = [
        ({"hashtag": "annivjulie", "goal_minor": None}, ErrorCode.HASHTAG_TAKEN),
        ({"hashtag": "Noël2026", "goal_minor": None}, ErrorCode.INVALID_HASHTAG),
        ({"hashtag": "2026", "goal_minor": None}, ErrorCode.INVALID_HASHTAG),
        ({"hashtag": "Big", "goal_minor": 2**63}, ErrorCode.AMOUNT_OUT_OF_RANGE),
    ]
    for kwargs, code in cases:
        with pytest.raises(EnvoiError) as refused:
            pots.create_pot(bob.member.id, title="t", **kwargs)  # type: ignore[arg-type]
        assert refused.value.code is code, kwargs


def test_a_mistyped_pin_format_is_not_counted_as_a_guess(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)
    for typo in ("abcd", "12", "1234567", ""):
        with pytest.raises(EnvoiError) as refused:
            world.app.lifecycle.confirm(alice.member.id, intent_id, typo)
        assert refused.value.code is ErrorCode.INVALID_PIN_FORMAT
    assert world.app.lifecycle.confirm(alice.member.id, intent_id, PIN).state is (
        IntentState.SETTLED
    )


@pytest.mark.parametrize("name", ["Bob\u202eDurand", "Bob\x00", "Bo\u200bb", " ", "x" * 101])
def test_display_names_cannot_disguise_themselves(world: World, name: str) -> None:
    with pytest.raises(EnvoiError) as refused:
        world.app.members.register(
            email="n@example.org", password="long enough password", display_name=name, locale="fr"
        )
    assert refused.value.code is ErrorCode.INVALID_DISPLAY_NAME
