"""Two actors on one intent at the same moment, through the real services, on the test
database: the payer's confirmation against a cancellation, a post deletion, or the payee's
new wallet linking the account the money waits for.

On PostgreSQL (READ COMMITTED, row locks) these are real races: each round releases both
actors together from a barrier. Before the lock order and the unit-of-work retry, a
confirmation raced by a cancellation died of ``DeadlockDetected`` (HTTP 500), and a
confirmation raced by the payee's link left the money ``claimable`` for a member. SQLite
serialises writers, so there the rounds check the same outcomes without contention.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from functools import partial

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import Identity, IntentState
from envoi.services.unit_of_work import TransientConflict
from tests.integration.flow_app import PIN, Someone, World

ROUNDS = int(os.environ.get("ENVOI_RACE_ROUNDS", "20"))  # `make chaos` asks for more
FUNDS = 100_000  # 1 000 €: the payer never runs short, whatever the rounds


def at_once(*actions: Callable[[], object]) -> list[object]:
    """Run the actions in threads released together; each one's result or exception."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = actions[i]()
        except BaseException as exc:  # kept and judged by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "an actor hung"
    return results


def refused_as_not_pending(outcome: object) -> bool:
    return isinstance(outcome, EnvoiError) and outcome.code is ErrorCode.INTENT_NOT_PENDING


def new_intent(world: World, payer: Someone, text: str) -> str:
    """Post a command and return its intent (a minute later each time: the per-author
    command rate is not what is tested here)."""
    world.clock.advance(minutes=1)
    world.post(payer, text)
    (intent_id,) = world.pending(payer)
    return intent_id


def state_of(world: World, intent_id: str) -> IntentState:
    with world.app.ctx.uow() as uow:
        intent = uow.intents.get(intent_id)
    assert intent is not None
    return intent.state


def test_confirm_and_cancel_of_one_intent_at_once_end_in_exactly_one_state(
    world: World,
) -> None:
    alice = world.person("alice", funds=FUNDS, verified=True)
    world.person("bob")
    finals: Counter[str] = Counter()
    failures: list[str] = []
    for n in range(ROUNDS):
        intent_id = new_intent(world, alice, f"@SmoneyFR #envoyer 1€ @bob round {n}")
        confirmed, cancelled = at_once(
            partial(world.app.lifecycle.confirm, alice.member.id, intent_id, PIN),
            partial(world.app.lifecycle.cancel, alice.member.id, intent_id),
        )
        state = state_of(world, intent_id)
        finals[state.value] += 1
        # Exactly one actor did its thing; the other was told, with a code, that it lost.
        won = [o for o in (confirmed, cancelled) if not isinstance(o, BaseException)]
        lost = [o for o in (confirmed, cancelled) if isinstance(o, BaseException)]
        expected = IntentState.SETTLED if won == [confirmed] else IntentState.CANCELLED
        if len(won) != 1 or not all(map(refused_as_not_pending, lost)) or state is not expected:
            failures.append(f"round {n}: {state.value}, {confirmed!r} / {cancelled!r}")
    assert not failures, f"{len(failures)} of {ROUNDS} rounds went wrong:\n" + "\n".join(failures)
    settled = finals[IntentState.SETTLED.value]
    assert world.posted(alice) == FUNDS - 100 * settled
    assert world.available(alice) == FUNDS - 100 * settled


def test_confirm_and_post_deletion_at_once_end_in_exactly_one_state(world: World) -> None:
    alice = world.person("alice", funds=FUNDS, verified=True)
    world.person("bob")
    settled = 0
    failures: list[str] = []
    for n in range(ROUNDS):
        intent_id = new_intent(world, alice, f"@SmoneyFR #envoyer 1€ @bob round {n}")
        with world.app.ctx.uow() as uow:
            post_id = uow.intents.get(intent_id).source_post_id  # type: ignore[union-attr]
        assert post_id is not None
        confirmed, deleted = at_once(
            partial(world.app.lifecycle.confirm, alice.member.id, intent_id, PIN),
            partial(world.app.intake.receive_deletion, "sandbox", post_id),
        )
        state = state_of(world, intent_id)
        settled += state is IntentState.SETTLED
        # The deletion always succeeds; it cancels unless the confirmation came first.
        expected = (
            IntentState.CANCELLED if isinstance(confirmed, BaseException) else IntentState.SETTLED
        )
        if (
            isinstance(deleted, BaseException)
            or (isinstance(confirmed, BaseException) and not refused_as_not_pending(confirmed))
            or state is not expected
        ):
            failures.append(f"round {n}: {state.value}, {confirmed!r} / {deleted!r}")
    assert not failures, f"{len(failures)} of {ROUNDS} rounds went wrong:\n" + "\n".join(failures)
    assert world.posted(alice) == FUNDS - 100 * settled
    assert world.available(alice) == FUNDS - 100 * settled


def test_confirm_while_the_payee_links_never_strands_the_money_in_escrow(
    world: World,
) -> None:
    alice = world.person("alice", funds=FUNDS, verified=True)
    failures: list[str] = []
    for n in range(ROUNDS):
        carol = world.person(f"carol{n}", member=False)
        intent_id = new_intent(world, alice, f"@SmoneyFR #envoyer 3€ @carol{n}")
        wallet = world.app.members.register(
            email=f"carol{n}@example.org",
            password="long enough password",
            display_name=f"Carol {n}",
            locale="fr",
        )
        confirmed, linked = at_once(
            partial(world.app.lifecycle.confirm, alice.member.id, intent_id, PIN),
            partial(world.app.members.link_identity, wallet.id, "sandbox", carol.token),
        )
        # Whoever went first, Carol is now a member holding the account: the money is
        # hers (settled straight to her, or claimed from escrow), never left waiting.
        state = state_of(world, intent_id)
        received = world.app.wallet.balance(wallet.id).posted
        if (
            isinstance(confirmed, BaseException)
            or isinstance(linked, BaseException)
            or state not in (IntentState.SETTLED, IntentState.CLAIMED)
            or received != 300
        ):
            failures.append(f"round {n}: {state.value}, {received}, {confirmed!r} / {linked!r}")
    assert not failures, f"{len(failures)} of {ROUNDS} rounds went wrong:\n" + "\n".join(failures)
    assert world.posted(alice) == FUNDS - 300 * ROUNDS


def test_a_deadlock_reaches_the_services_as_a_transient_conflict(world: World) -> None:
    """Two transactions that break the lock order on purpose (members rows taken in
    opposite orders): PostgreSQL kills one, and the unit of work hands the services a
    ``TransientConflict`` they retry, not a driver error that would become a 500. SQLite
    queues the writers (BEGIN IMMEDIATE): both commit."""
    a = world.person("ann").member.id
    b = world.person("ben").member.id
    postgres = world.app.engine.dialect.name == "postgresql"
    # Only on PostgreSQL may both transactions hold their first lock at once.
    both_hold_one = threading.Barrier(2, timeout=20) if postgres else None

    def lock(first: str, second: str) -> str:
        with world.app.ctx.uow() as uow:
            uow.members.lock(first)
            if both_hold_one is not None:
                both_hold_one.wait()
            uow.members.lock(second)
            uow.commit()
        return "committed"

    outcomes = at_once(partial(lock, a, b), partial(lock, b, a))
    if not postgres:
        assert outcomes == ["committed", "committed"]
        return
    assert sorted(map(type, outcomes), key=str) == sorted([str, TransientConflict], key=str)
    (conflict,) = [o for o in outcomes if isinstance(o, TransientConflict)]
    assert conflict.reason == "deadlock_detected"


def test_the_claim_job_gives_stranded_escrow_to_the_member_who_linked_the_account(
    world: World,
) -> None:
    """What the race used to leave behind (escrow for an account a member holds, the
    intent ``claimable``), made by hand: the worker job claims it, once."""
    alice = world.person("alice", funds=FUNDS, verified=True)
    carol = world.person("carol", member=False)
    intent_id = new_intent(world, alice, "@SmoneyFR #envoyer 3€ @carol")
    world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert state_of(world, intent_id) is IntentState.CLAIMABLE
    wallet = world.app.members.register(
        email="carol@example.org",
        password="long enough password",
        display_name="Carol",
        locale="fr",
    )
    with world.app.ctx.uow() as uow:  # linked without the claim, as the race did
        assert uow.identities.add(
            Identity(
                id="idn_stranded",
                member_id=wallet.id,
                network="sandbox",
                network_user_id=carol.sandbox_id,
                handle="carol",
                display_name="Carol",
                linked_at=world.clock.now(),
            )
        )
        uow.commit()
    assert world.app.jobs["claim_linked"]() == 1
    assert state_of(world, intent_id) is IntentState.CLAIMED
    assert world.app.wallet.balance(wallet.id).posted == 300
    assert world.app.jobs["claim_linked"]() == 0  # once
    assert world.app.wallet.balance(wallet.id).posted == 300
    assert world.posted(alice) == FUNDS - 300
