"""Property tests of the ledger rules (through MemoryLedger, which is nothing but them):
random sequences of batches, holds, posts, voids, linked chains, retries and expiries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import astuple
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from envoi.ledger.memory import MemoryLedger
from envoi.ledger.model import (
    Account,
    AccountFlags,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tests.clocks import ManualClock

R = CreateTransferResult
F = TransferFlags
GUARDED = ["w:a", "w:b", "w:c"]
USD = "w:usd"
WORLD, FEES, LIMITED = "world", "fees", "limited"
ACCOUNTS = [*GUARDED, USD, WORLD, FEES, LIMITED]
SINGLE_IDS = [f"s{i}" for i in range(12)]
HOLD_IDS = [f"h{i}" for i in range(8)]
RESOLVE_IDS = [f"r{i}" for i in range(8)]  # posts and voids
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_ledger(clock: ManualClock) -> MemoryLedger:
    ledger = MemoryLedger(clock)
    guard = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    ledger.create_accounts(
        [
            *(Account(a, "EUR", "wallet", guard) for a in GUARDED),
            Account(USD, "USD", "wallet", guard),
            Account(WORLD, "EUR", "card_clearing"),
            Account(FEES, "EUR", "fees", AccountFlags.SHARDED),
            Account(LIMITED, "EUR", "payout", AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS),
        ]
    )
    funding = [Transfer(f"fund:{a}", WORLD, a, 100, "EUR") for a in GUARDED]
    assert all(o.ok for o in ledger.create_transfers(funding))
    return ledger


def transfers(holds: list[str]) -> st.SearchStrategy[Transfer]:
    """Mostly plausible transfers (so holds get posted and wallets run dry), some not.
    Posts and voids mostly name a hold that was created (``holds``)."""
    accounts = [*GUARDED, *GUARDED, WORLD, FEES, LIMITED, USD, "nobody"]
    linked = st.sampled_from([F.NONE, F.NONE, F.NONE, F.LINKED])
    amounts = st.one_of(*[st.integers(1, 120)] * 9, st.integers(-1, 0))

    @st.composite
    def one(draw: st.DrawFn) -> Transfer:
        kind = draw(st.sampled_from(["single", "single", "pending", "post", "void"]))
        if kind in ("post", "void"):
            flag = F.POST_PENDING_TRANSFER if kind == "post" else F.VOID_PENDING_TRANSFER
            return Transfer(
                draw(st.sampled_from(RESOLVE_IDS)),
                "",
                "",
                draw(st.sampled_from([0, 0, 0, 0, 5])),
                "",
                flags=flag | draw(linked),
                pending_id=draw(st.sampled_from(holds * 4 + HOLD_IDS[:1])),
            )
        debit = draw(st.sampled_from(accounts))
        others = [a for a in accounts if a != debit]
        credit = draw(st.sampled_from(others * 9 + [debit]))
        pending = kind == "pending"
        return Transfer(
            draw(st.sampled_from(HOLD_IDS if pending else SINGLE_IDS)),
            debit,
            credit,
            draw(amounts),
            "USD" if draw(st.integers(0, 9)) == 0 else "EUR",
            flags=(F.PENDING if pending else F.NONE) | draw(linked),
            timeout_s=draw(st.sampled_from([0, 10, 30])) if pending else 0,
        )

    return one()


def snapshot(ledger: MemoryLedger) -> tuple[object, ...]:
    return (
        {a: astuple(b) for a, b in ledger.balances.items()},
        {i: astuple(t) for i, t in ledger.transfers.items()},
    )


def check_invariants(ledger: MemoryLedger) -> None:
    posted: dict[str, int] = defaultdict(int)
    pending: dict[str, int] = defaultdict(int)
    for account_id, b in ledger.balances.items():
        account = ledger.accounts[account_id]
        posted[account.currency] += b.credits_posted - b.debits_posted
        pending[account.currency] += b.credits_pending - b.debits_pending
        if account.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
            assert b.debits_pending + b.debits_posted <= b.credits_posted
        if account.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS:
            assert b.credits_pending + b.credits_posted <= b.debits_posted
    assert all(v == 0 for v in posted.values())
    assert all(v == 0 for v in pending.values())
    # Every balance is what its transfers say (as ledger_check verifies in SQL).
    expected = {a: [0, 0, 0, 0] for a in ledger.balances}
    for t in ledger.transfers.values():
        if t.flags & F.PENDING:
            if t.state == "pending":
                expected[t.debit_account_id][0] += t.amount
                expected[t.credit_account_id][2] += t.amount
        elif not t.flags & F.VOID_PENDING_TRANSFER:
            expected[t.debit_account_id][1] += t.amount
            expected[t.credit_account_id][3] += t.amount
        assert t.amount > 0
        assert t.debit_account_id != t.credit_account_id
    assert {a: list(astuple(b)) for a, b in ledger.balances.items()} == expected


class LedgerHistories(RuleBasedStateMachine):
    """Random histories of batches, clock ticks and expiry sweeps; the ledger stays sound."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0)
        self.ledger = new_ledger(self.clock)
        self.holds: list[str] = []

    @rule(data=st.data(), size=st.integers(1, 6))
    def batch(self, data: st.DataObject, size: int) -> None:
        batch = [data.draw(transfers(self.holds)) for _ in range(size)]
        before = set(self.ledger.transfers)
        outcomes = self.ledger.create_transfers(batch)
        assert [o.id for o in outcomes] == [t.id for t in batch]
        # Exactly the transfers reported OK were created; failures changed nothing.
        created = set(self.ledger.transfers) - before
        assert created == {o.id for o in outcomes if o.result == R.OK}
        self.holds += [i for i in created if self.ledger.transfers[i].flags & F.PENDING]
        # A linked chain is all or nothing.
        chain: list[int] = []
        for i, t in enumerate(batch):
            chain.append(i)
            if not t.flags & F.LINKED or i == len(batch) - 1:
                assert len({outcomes[j].ok for j in chain}) == 1
                chain = []
        # Retrying what succeeded answers EXISTS and moves nothing.
        succeeded = [t for t, o in zip(batch, outcomes, strict=True) if o.ok]
        state = snapshot(self.ledger)
        assert all(o.result == R.EXISTS for o in self.ledger.create_transfers(succeeded))
        assert snapshot(self.ledger) == state

    @rule(seconds=st.integers(1, 40))
    def tick(self, seconds: int) -> None:
        self.clock.at += timedelta(seconds=seconds)

    @rule()
    def expire(self) -> None:
        for transfer_id in self.ledger.expire_pending(self.clock.at):
            assert self.ledger.transfers[transfer_id].state == "expired"

    @invariant()
    def sound(self) -> None:
        check_invariants(self.ledger)


LedgerHistories.TestCase.settings = settings(max_examples=60, stateful_step_count=15, deadline=None)
test_random_histories_keep_the_ledger_sound = LedgerHistories.TestCase
