"""The ledger rules without a database (MemoryLedger is the rules plus a few dicts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from envoi.ledger.memory import MemoryLedger
from envoi.ledger.model import (
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from envoi.ledger.rules import Rules, StoredTransfer, valid_account
from tests.clocks import ManualClock

R = CreateTransferResult
F = TransferFlags
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def ledger(clock: ManualClock) -> MemoryLedger:
    ledger = MemoryLedger(clock)
    guard = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    ledger.create_accounts(
        [
            Account("a", "EUR", "wallet", guard),
            Account("b", "EUR", "wallet", guard),
            Account("world", "EUR", "card_clearing", AccountFlags.SHARDED),
            Account("payout", "EUR", "payout", AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS),
        ]
    )
    assert ledger.create_transfers([Transfer("fund", "world", "a", 100, "EUR")])[0].ok
    return ledger


def run(ledger: MemoryLedger, *transfers: Transfer) -> list[CreateTransferResult]:
    return [o.result for o in ledger.create_transfers(transfers)]


def pay(tid: str, amount: int, debit: str = "a", credit: str = "b", **kw: object) -> Transfer:
    return Transfer(tid, debit, credit, amount, "EUR", **kw)  # type: ignore[arg-type]


def resolve(tid: str, pending_id: str, flag: F, **kw: object) -> Transfer:
    return Transfer(tid, "", "", 0, "", flags=flag, pending_id=pending_id, **kw)  # type: ignore[arg-type]


def test_a_hold_created_and_posted_in_one_batch(ledger: MemoryLedger) -> None:
    assert run(
        ledger,
        pay("h", 60, flags=F.PENDING),
        resolve("h:post", "h", F.POST_PENDING_TRANSFER),
        pay("x", 50),
    ) == [R.OK, R.OK, R.EXCEEDS_CREDITS]
    assert ledger.balance("b").posted == 60
    assert ledger.transfers["h"].state == "posted"


def test_a_failed_chain_restores_the_hold_it_posted(ledger: MemoryLedger) -> None:
    assert run(ledger, pay("h", 60, flags=F.PENDING)) == [R.OK]
    assert run(
        ledger,
        resolve("h:post", "h", F.POST_PENDING_TRANSFER | F.LINKED),
        pay("too-much", 50),
    ) == [R.LINKED_EVENT_FAILED, R.EXCEEDS_CREDITS]
    assert ledger.transfers["h"].state == "pending"
    assert ledger.balance("a").debits_pending == 60
    # A hold created and posted inside a failed chain leaves nothing behind.
    assert run(
        ledger,
        pay("h2", 10, flags=F.PENDING | F.LINKED),
        resolve("h2:post", "h2", F.POST_PENDING_TRANSFER | F.LINKED),
        pay("bad", 1, credit="nobody"),
    ) == [R.LINKED_EVENT_FAILED, R.LINKED_EVENT_FAILED, R.ACCOUNT_NOT_FOUND]
    assert "h2" not in ledger.transfers
    assert "h2:post" not in ledger.transfers


def test_members_after_the_failure_fail_with_the_chain(ledger: MemoryLedger) -> None:
    assert run(
        ledger,
        pay("c1", 1, flags=F.LINKED),
        pay("c2", 0, flags=F.LINKED),
        pay("c3", 1, flags=F.LINKED),
        pay("c4", 1),
        pay("lone", 1),
    ) == [R.LINKED_EVENT_FAILED, R.INVALID, R.LINKED_EVENT_FAILED, R.LINKED_EVENT_FAILED, R.OK]
    assert ledger.balance("a").available == 99


@pytest.mark.parametrize(
    "transfer",
    [
        pay("x", 1, flags=F.PENDING | F.POST_PENDING_TRANSFER, pending_id="p"),
        pay("x", 1, flags=F.POST_PENDING_TRANSFER),  # no pending_id
        pay("x", 1, pending_id="p"),  # pending_id without post or void
        pay("x", 1, timeout_s=10),  # timeout without a hold
        pay("x", 1, flags=F.PENDING, timeout_s=-1),
        resolve("x", "x", F.VOID_PENDING_TRANSFER),  # itself
        resolve("x", "p", F.VOID_PENDING_TRANSFER, timeout_s=5),
        pay("x", 1, flags=TransferFlags(64)),
        pay("", 1),
        pay("x" * 101, 1),
        pay("x", 1, code="c" * 33),
        pay("x", 1, reference="r" * 201),
        pay("x", 1, flags=F.PENDING, timeout_s=2**31),
        pay("x", 2**63),
    ],
)
def test_malformed_transfers_are_invalid(ledger: MemoryLedger, transfer: Transfer) -> None:
    assert run(ledger, transfer) == [R.INVALID]


def test_a_hold_expires_at_its_deadline_exactly(ledger: MemoryLedger, clock: ManualClock) -> None:
    assert run(ledger, pay("h", 70, flags=F.PENDING, timeout_s=60)) == [R.OK]
    clock.at = T0 + timedelta(seconds=59)
    assert run(ledger, resolve("v", "h", F.VOID_PENDING_TRANSFER)) == [R.OK]
    assert run(ledger, pay("h2", 70, flags=F.PENDING, timeout_s=60)) == [R.OK]
    clock.at += timedelta(seconds=60)
    assert run(ledger, resolve("p", "h2", F.POST_PENDING_TRANSFER)) == [R.PENDING_TRANSFER_EXPIRED]
    assert ledger.expire_pending(clock.at) == ["h2"]
    assert ledger.balance("a").available == 100
    assert ledger.transfers["h2"].state == "expired"


def test_a_post_must_match_its_hold(ledger: MemoryLedger) -> None:
    assert run(ledger, pay("h", 10, flags=F.PENDING)) == [R.OK]
    post = F.POST_PENDING_TRANSFER
    assert run(
        ledger,
        Transfer("p1", "b", "", 0, "", flags=post, pending_id="h"),
        Transfer("p2", "", "", 0, "USD", flags=post, pending_id="h"),
        Transfer("p3", "", "", 9, "", flags=post, pending_id="h"),
        Transfer("v1", "", "", 9, "", flags=F.VOID_PENDING_TRANSFER, pending_id="h"),
        Transfer("p4", "a", "b", 10, "EUR", flags=post, pending_id="h"),
    ) == [
        R.PENDING_TRANSFER_HAS_DIFFERENT_FIELDS,
        R.PENDING_TRANSFER_HAS_DIFFERENT_FIELDS,
        R.PARTIAL_POST_NOT_SUPPORTED,
        R.PENDING_TRANSFER_HAS_DIFFERENT_FIELDS,
        R.OK,
    ]
    # A retry of the post in either form is the same post.
    assert run(ledger, Transfer("p4", "", "", 0, "", flags=post, pending_id="h")) == [R.EXISTS]


def test_credit_limited_accounts(ledger: MemoryLedger) -> None:
    assert run(ledger, pay("in", 10, debit="world", credit="payout")) == [R.EXCEEDS_DEBITS]
    assert run(ledger, pay("out", 10, debit="payout", credit="world")) == [R.OK]
    assert run(ledger, pay("in", 10, debit="a", credit="payout")) == [R.OK]


def test_account_validation(ledger: MemoryLedger) -> None:
    assert not valid_account(Account("x", "EUR", "x", AccountFlags(3 | 4)))
    assert not valid_account(Account("x" * 101, "EUR", "x"))
    assert not valid_account(Account("x", "EURO", "x"))
    assert valid_account(Account("x", "EUR", "x", AccountFlags.SHARDED))
    assert ledger.create_accounts([Account("a", "EUR", "wallet")]) == [
        CreateAccountResult.EXISTS_WITH_DIFFERENT_FIELDS
    ]


def test_a_hold_whose_accounts_were_not_loaded_is_not_found() -> None:
    """The SQL store looks holds up before it locks their accounts; one created in between
    shows up in ``known`` without balances, and counts as created after this batch."""
    hold = StoredTransfer("h", "a", "b", 10, "EUR", "t", F.PENDING, None, 0, None, None, "pending")
    rules = Rules({}, {}, {"h": hold}, T0)
    decision = rules.decide([resolve("p", "h", F.POST_PENDING_TRANSFER)])
    assert [o.result for o in decision.outcomes] == [R.PENDING_TRANSFER_NOT_FOUND]
    assert decision.created == []
    assert hold.state == "pending"
