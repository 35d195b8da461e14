"""The payment flow through the services, on SQLite and PostgreSQL, with a moving clock."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select

from envoi.adapters.db.tables import inbound_posts, outbox, payment_intents
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import IntentState, MemberKind
from tests.integration.flow_app import BOT, PIN, World, make_world


def test_send_confirm_settle(world: World) -> None:
    alice = world.person("alice", funds=50_00)
    bob = world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)
    assert world.available(alice) == 45_00
    settled = world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert settled.state is IntentState.SETTLED
    assert (world.posted(alice), world.posted(bob)) == (45_00, 5_00)
    assert any("5,00" in text and "@bob" in text for text in world.replies(bob))


def test_same_post_delivered_concurrently_is_stored_once(world: World, engine: Engine) -> None:
    alice = world.person("alice", funds=50_00)
    world.person("bob")
    post = world.app.sandbox.post(alice.sandbox_id, f"@{BOT} #envoyer 5€ @bob")
    inbound = post.to_inbound()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            world.app.intake.receive_post(inbound)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payment_intents)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(inbound_posts)).scalar() == 1
    assert world.available(alice) == 45_00


def test_expiry_voids_the_hold(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)
    world.clock.advance(seconds=world.app.settings.confirmation_window_s - 1)
    assert world.app.lifecycle.expire_due() == 0
    world.clock.advance(seconds=2)
    assert world.app.lifecycle.expire_due() == 1
    assert world.available(alice) == 20_00
    with pytest.raises(EnvoiError) as refused:
        world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert refused.value.code is ErrorCode.INTENT_NOT_PENDING


def test_confirming_after_the_window_is_refused_even_before_the_job(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)
    world.clock.advance(seconds=world.app.settings.confirmation_window_s)
    with pytest.raises(EnvoiError) as refused:
        world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert refused.value.code is ErrorCode.INTENT_EXPIRED


def test_pin_lockout_survives_a_restart(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, pin_lockout_s=60)
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)
    codes = []
    for wrong in ("0000", "1111", "2222"):
        with pytest.raises(EnvoiError) as refused:
            world.app.lifecycle.confirm(alice.member.id, intent_id, wrong)
        codes.append(refused.value.code)
    assert codes == [ErrorCode.WRONG_PIN, ErrorCode.WRONG_PIN, ErrorCode.PIN_LOCKED]
    world.app.engine.dispose()
    restarted = make_world(database_url, pin_lockout_s=60)
    restarted.clock.current = world.clock.current
    with pytest.raises(EnvoiError) as still:
        restarted.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert still.value.code is ErrorCode.PIN_LOCKED
    restarted.clock.advance(seconds=world.app.settings.pin_lockout_s + 1)
    done = restarted.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert done.state is IntentState.SETTLED
    restarted.app.engine.dispose()


def test_unclaimed_money_goes_back_to_the_payer(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("carol", member=False)
    world.post(alice, f"@{BOT} #envoyer 5€ @carol")
    (intent_id,) = world.pending(alice)
    assert (
        world.app.lifecycle.confirm(alice.member.id, intent_id, PIN).state is IntentState.CLAIMABLE
    )
    assert world.posted(alice) == 15_00
    world.clock.advance(seconds=world.app.settings.claim_window_s + 1)
    assert world.app.lifecycle.refund_due() == 1
    assert world.app.lifecycle.refund_due() == 0  # once
    assert world.posted(alice) == 20_00
    assert any("revenus" in t for t in world.replies(alice))


def test_claim_then_refund_job_does_nothing(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    carol = world.person("carol", member=False)
    world.post(alice, f"@{BOT} #envoyer 5€ @carol")
    (intent_id,) = world.pending(alice)
    world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    member = world.app.members.register(
        email="carol@example.org",
        password="long enough password",
        display_name="Carol",
        locale="en",
    )
    world.app.members.link_identity(member.id, "sandbox", carol.token)
    assert world.app.wallet.balance(member.id).posted == 5_00
    world.clock.advance(seconds=world.app.settings.claim_window_s + 1)
    assert world.app.lifecycle.refund_due() == 0
    assert world.posted(alice) == 15_00


def test_donation_needs_a_verified_organisation(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    asso = world.person("restos", kind=MemberKind.ORGANISATION, verified=True)
    world.post(alice, f"@{BOT} #don 5€ @bob")
    assert world.pending(alice) == []
    assert any("association" in t for t in world.replies(alice))
    world.post(alice, f"@{BOT} #don 5€ @restos")
    (intent_id,) = world.pending(alice)
    world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert world.posted(asso) == 5_00


def test_pot_collects(world: World) -> None:
    alice = world.person("alice", funds=20_00)
    bob = world.person("bob")
    pot = world.app.members.create_pot(
        bob.member.id, hashtag="AnnivJulie", title="Julie", goal_minor=None
    )
    world.post(alice, f"@{BOT} #cagnotte 7€ #annivjulie")
    (intent_id,) = world.pending(alice)
    world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    with world.app.ctx.uow() as uow:
        assert uow.ledger.balance(f"pot:{pot.id}").posted == 7_00
    world.post(alice, f"@{BOT} #cagnotte 7€ #NoSuchPot")
    assert any("#NoSuchPot" in t for t in world.replies(alice))


def test_fees_are_linked_to_the_payment(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, fee_send={"fixed_minor": 25, "basis_points": 100})
    alice = world.person("alice", funds=10_00)
    bob = world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 9,80€ @bob")  # 9,80 + 0,25 + 0,10 = 10,15 > 10,00
    assert world.pending(alice) == []
    world.post(alice, f"@{BOT} #envoyer 9€ @bob")  # 9 + 0,25 + 0,09 = 9,34
    (intent_id,) = world.pending(alice)
    assert world.available(alice) == 10_00 - 9_34
    world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert (world.posted(alice), world.posted(bob)) == (66, 9_00)
    with world.app.ctx.uow() as uow:
        assert uow.ledger.balance("system:fees:EUR").posted == 34
    world.app.engine.dispose()


def test_limits(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, limit_daily_minor=30_00)
    alice = world.person("alice", funds=200_00, verified=True)
    world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 251€ @bob")
    assert world.pending(alice) == []
    world.post(alice, f"@{BOT} #envoyer 20€ @bob")
    world.post(alice, f"@{BOT} #envoyer 20€ @bob")  # 40 € in a day > 30 €
    assert len(world.pending(alice)) == 1
    replies = world.replies(alice)
    assert any("250,00" in t for t in replies)
    assert any("journalier" in t for t in replies)
    world.app.engine.dispose()


def test_rate_limit_per_author(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, commands_per_minute=2)
    alice = world.person("alice", funds=50_00)
    world.person("bob")
    for _ in range(3):
        world.post(alice, f"@{BOT} #envoyer 1€ @bob")
    assert len(world.pending(alice)) == 2
    assert any("Trop de commandes" in t for t in world.replies(alice))
    world.app.engine.dispose()


def test_outbox_retries_then_delivers(world: World, engine: Engine) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    gateway = world.app.ctx.gateways["sandbox"]
    real_reply = gateway.reply
    calls = {"n": 0}

    def flaky(post_id: str, text: str, *, idempotency_key: str) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("network down")
        return real_reply(post_id, text, idempotency_key=idempotency_key)

    gateway.reply = flaky  # type: ignore[method-assign]
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    assert world.app.delivery.deliver_due() == 0
    world.clock.advance(seconds=5)
    assert world.app.delivery.deliver_due() == 1
    with engine.connect() as conn:
        row = conn.execute(select(outbox.c.attempts, outbox.c.delivered_at)).one()
    assert row.attempts == 2
    assert row.delivered_at is not None


def test_top_up_is_idempotent_and_survives_a_crash(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envoi.services.funding import Funding
    from tests.integration.flow_app import CARD

    alice = world.person("alice")
    funding = world.app.funding
    first = funding.top_up(alice.member.id, 10_00, CARD, request_key="k1")
    again = funding.top_up(alice.member.id, 10_00, CARD, request_key="k1")
    assert again.id == first.id
    assert world.posted(alice) == 10_00
    with pytest.raises(EnvoiError) as conflict:
        funding.top_up(alice.member.id, 11_00, CARD, request_key="k1")
    assert conflict.value.code is ErrorCode.IDEMPOTENCY_CONFLICT

    # The card is charged, then the process dies before the wallet is credited.
    real_apply = Funding._apply

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(Funding, "_apply", crash)
    with pytest.raises(RuntimeError):
        funding.top_up(alice.member.id, 5_00, CARD, request_key="k2")
    assert world.posted(alice) == 10_00
    # The client retries with the same key: the processor returns the same charge, credited once.
    monkeypatch.setattr(Funding, "_apply", real_apply)
    retried = funding.top_up(alice.member.id, 5_00, CARD, request_key="k2")
    assert retried.status == "succeeded"
    funding.top_up(alice.member.id, 5_00, CARD, request_key="k2")
    assert world.posted(alice) == 15_00


def test_crash_inside_a_confirmation_leaves_nothing_half_done(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envoi.services.announce import Announcer

    alice = world.person("alice", funds=20_00)
    bob = world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent_id,) = world.pending(alice)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("crash after the ledger legs, before the notifications")

    monkeypatch.setattr(Announcer, "settled", crash)
    with pytest.raises(RuntimeError):
        world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    # Rolled back as one: state, ledger legs and outbox together.
    assert world.pending(alice) == [intent_id]
    assert (world.posted(alice), world.available(alice), world.posted(bob)) == (20_00, 15_00, 0)
    monkeypatch.undo()
    assert world.app.lifecycle.confirm(alice.member.id, intent_id, PIN).state is IntentState.SETTLED
    assert world.posted(bob) == 5_00


def test_many_workers_expire_and_deliver_each_thing_once(world: World, engine: Engine) -> None:
    alice = world.person("alice", funds=100_00)
    bob = world.person("bob")
    for _ in range(8):
        world.post(alice, f"@{BOT} #envoyer 1€ @bob")
    assert len(world.pending(alice)) == 8
    world.clock.advance(seconds=world.app.settings.confirmation_window_s + 1)
    # Each worker has its own connections; they race for the same rows.
    workers = [make_world(world.app.settings.database_url) for _ in range(3)]
    for other in workers:
        other.clock.current = world.clock.current
    barrier = threading.Barrier(len(workers))
    expired: list[int] = []
    delivered: list[int] = []
    errors: list[BaseException] = []

    def work(other: World) -> None:
        barrier.wait()
        try:
            expired.append(other.app.lifecycle.expire_due(limit=3))
            expired.append(other.app.lifecycle.expire_due(limit=10))
            delivered.append(other.app.delivery.deliver_due())
            delivered.append(other.app.delivery.deliver_due())
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for other in workers:
        other.app.engine.dispose()
    assert errors == []
    assert sum(expired) == 8
    assert world.pending(alice) == []
    assert world.available(alice) == 100_00
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.dedupe_key, outbox.c.delivered_at)).all()
    assert all(row.delivered_at is not None for row in rows)
    assert sum(delivered) == len(rows)  # nothing sent twice
    # 8 "confirm" replies and 8 "expired" DMs reached the network, once each.
    bot_posts = world.app.sandbox.inbox(alice.sandbox_id, limit=100)
    assert len(bot_posts) == 16
    assert world.posted(bob) == 0


def test_requests_count_against_limits_only_once_agreed(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, limit_daily_minor=30_00)
    alice = world.person("alice", funds=100_00, verified=True)
    bob = world.person("bob")
    world.post(bob, f"@{BOT} #demander 25€ @alice")
    world.post(bob, f"@{BOT} #demander 25€ @alice")
    first, second = world.pending(alice)  # asking twice fills no cap
    assert world.app.lifecycle.confirm(alice.member.id, first, PIN).state is IntentState.SETTLED
    with pytest.raises(EnvoiError) as capped:
        world.app.lifecycle.confirm(alice.member.id, second, PIN)
    assert capped.value.code is ErrorCode.LIMIT_DAILY
    assert (world.posted(alice), world.posted(bob)) == (75_00, 25_00)
    world.app.engine.dispose()


def test_simultaneous_payments_cannot_both_fit_under_the_daily_cap(
    database_url: str, engine: Engine
) -> None:
    world = make_world(database_url, limit_daily_minor=30_00)
    alice = world.person("alice", funds=100_00, verified=True)
    world.person("bob")
    posts = [
        world.app.sandbox.post(alice.sandbox_id, f"@{BOT} #envoyer 20€ @bob #{n}").to_inbound()
        for n in range(4)
    ]
    barrier = threading.Barrier(len(posts))
    errors: list[BaseException] = []

    def deliver(index: int) -> None:
        barrier.wait()
        try:
            world.app.intake.receive_post(posts[index])
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(len(posts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(world.pending(alice)) == 1
    assert world.available(alice) == 80_00
    world.app.engine.dispose()


def test_expiry_after_the_ledger_released_the_holds_itself(
    database_url: str, engine: Engine
) -> None:
    # Workers down for over an hour: the ledger's own timeout voided the hold and its fee.
    world = make_world(database_url, fee_send={"fixed_minor": 10})
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    assert world.available(alice) == 20_00 - 5_10
    world.clock.advance(seconds=world.app.settings.confirmation_window_s + 3601)
    assert world.app.jobs["expire_ledger_holds"]() == 2
    assert world.app.lifecycle.expire_due() == 1
    assert world.pending(alice) == []
    assert world.available(alice) == 20_00
    world.app.engine.dispose()
