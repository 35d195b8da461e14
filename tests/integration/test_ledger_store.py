"""SqlLedger on the real databases: results, two-phase transfers, idempotency, constraints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from envoi.adapters.db import ledger_check
from envoi.adapters.db.ledger_store import SqlLedger
from envoi.domain import accounts as ids
from envoi.ledger.model import (
    Account,
    AccountBalance,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tests.clocks import ManualClock

R = CreateTransferResult
GUARDED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
PENDING = TransferFlags.PENDING
POST = TransferFlags.POST_PENDING_TRANSFER
VOID = TransferFlags.VOID_PENDING_TRANSFER
LINKED = TransferFlags.LINKED
ALICE, BOB, CAROL = ids.wallet("alice"), ids.wallet("bob"), ids.wallet("carol")
CARDS, FEES = ids.card_clearing("EUR"), ids.fees("EUR")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        yield connection


@pytest.fixture
def ledger(conn: Connection, clock: ManualClock) -> SqlLedger:
    """Alice holds 100.00 EUR from a card top-up; Bob and Carol hold nothing."""
    ledger = SqlLedger(conn, clock)
    ledger.create_accounts(
        [
            Account(ALICE, "EUR", "wallet", GUARDED),
            Account(BOB, "EUR", "wallet", GUARDED),
            Account(CAROL, "EUR", "wallet", GUARDED),
            Account(CARDS, "EUR", "card_clearing", AccountFlags.SHARDED),
            Account(FEES, "EUR", "fees", AccountFlags.SHARDED),
            Account("wallet:usd", "USD", "wallet", GUARDED),
        ]
    )
    assert ledger.create_transfers([Transfer("topup", CARDS, ALICE, 100_00, "EUR")])[0].ok
    return ledger


def results(ledger: SqlLedger, *transfers: Transfer) -> list[CreateTransferResult]:
    return [o.result for o in ledger.create_transfers(transfers)]


def available(ledger: SqlLedger, account_id: str) -> int:
    return ledger.balance(account_id).available


def pay(tid: str, amount: int, debit: str = ALICE, credit: str = BOB, **kw: object) -> Transfer:
    return Transfer(tid, debit, credit, amount, "EUR", **kw)  # type: ignore[arg-type]


def post(tid: str, pending_id: str, amount: int = 0) -> Transfer:
    return Transfer(tid, "", "", amount, "", flags=POST, pending_id=pending_id)


def void(tid: str, pending_id: str) -> Transfer:
    return Transfer(tid, "", "", 0, "", flags=VOID, pending_id=pending_id)


def test_a_transfer_moves_money_and_is_in_both_histories(ledger: SqlLedger) -> None:
    assert results(ledger, pay("p1", 30_00, code="payment", reference="intent-1")) == [R.OK]
    assert available(ledger, ALICE) == 70_00
    assert available(ledger, BOB) == 30_00
    assert ledger.balance(CARDS).posted == -100_00  # the sum of its shards
    [latest, _topup] = ledger.transfers_of(ALICE)
    assert (latest.id, latest.amount, latest.code, latest.reference) == (
        "p1",
        30_00,
        "payment",
        "intent-1",
    )
    assert latest.state == "posted"
    assert latest.created_at == T0
    assert [t.id for t in ledger.transfers_of(BOB)] == ["p1"]


def test_retrying_a_batch_gives_the_first_results_and_moves_nothing(ledger: SqlLedger) -> None:
    batch = [pay("b1", 10_00), pay("b2", 500_00), pay("b3", 5_00, credit=CAROL)]
    assert results(ledger, *batch) == [R.OK, R.EXCEEDS_CREDITS, R.OK]
    before = [ledger.balance(a) for a in (ALICE, BOB, CAROL)]
    assert results(ledger, *batch) == [R.EXISTS, R.EXCEEDS_CREDITS, R.EXISTS]
    assert [ledger.balance(a) for a in (ALICE, BOB, CAROL)] == before
    assert len(ledger.transfers_of(ALICE)) == 3  # topup, b1, b3: nothing twice


def test_same_id_with_different_fields_is_refused(ledger: SqlLedger) -> None:
    assert results(ledger, pay("d1", 10_00)) == [R.OK]
    assert results(ledger, pay("d1", 11_00), pay("d1", 10_00, credit=CAROL)) == [
        R.EXISTS_WITH_DIFFERENT_FIELDS,
        R.EXISTS_WITH_DIFFERENT_FIELDS,
    ]
    # The same id twice in one batch: the second sees the first.
    assert results(ledger, pay("d2", 1_00), pay("d2", 1_00), pay("d2", 2_00)) == [
        R.OK,
        R.EXISTS,
        R.EXISTS_WITH_DIFFERENT_FIELDS,
    ]
    assert available(ledger, BOB) == 11_00


def test_invalid_transfers_get_their_own_result_and_do_not_stop_the_batch(
    ledger: SqlLedger,
) -> None:
    assert results(
        ledger,
        pay("i1", 0),
        pay("i2", -5),
        pay("i3", 1_00, credit=ALICE),
        pay("i4", 1_00, credit="wallet:nobody"),
        pay("i5", 1_00, credit="wallet:usd"),
        Transfer("i6", ALICE, BOB, 1_00, "USD"),
        pay("i7", 1_00, timeout_s=60),  # a timeout only makes sense on a hold
        pay("i8", 1_00, flags=POST | VOID, pending_id="x"),
        pay("i9" * 51, 1_00),  # longer than the column: a result, not a database error
        pay("ok", 1_00),
    ) == [
        R.INVALID,
        R.INVALID,
        R.INVALID,
        R.ACCOUNT_NOT_FOUND,
        R.CURRENCY_MISMATCH,
        R.CURRENCY_MISMATCH,
        R.INVALID,
        R.INVALID,
        R.INVALID,
        R.OK,
    ]
    assert available(ledger, ALICE) == 99_00
    assert [t.id for t in ledger.transfers_of(ALICE)] == ["ok", "topup"]


def test_a_hold_reserves_funds_then_posts_in_full(ledger: SqlLedger) -> None:
    assert results(ledger, pay("h1", 80_00, flags=PENDING, timeout_s=900)) == [R.OK]
    assert available(ledger, ALICE) == 20_00
    assert ledger.balance(BOB).credits_pending == 80_00
    assert available(ledger, BOB) == 0  # incoming holds are not spendable
    assert results(ledger, pay("h2", 30_00)) == [R.EXCEEDS_CREDITS]
    assert results(ledger, post("h1:post", "h1")) == [R.OK]
    assert ledger.balance(ALICE).debits_pending == 0
    assert available(ledger, ALICE) == 20_00
    assert available(ledger, BOB) == 80_00
    states = {t.id: t.state for t in ledger.transfers_of(ALICE)}
    assert states == {"h1": "posted", "h1:post": "posted", "topup": "posted"}


def test_posting_part_of_a_hold_is_refused_clearly(ledger: SqlLedger) -> None:
    assert results(ledger, pay("h1", 50_00, flags=PENDING)) == [R.OK]
    assert results(ledger, post("h1:post", "h1", amount=20_00)) == [R.PARTIAL_POST_NOT_SUPPORTED]
    assert results(ledger, post("h1:post2", "h1", amount=60_00)) == [R.PARTIAL_POST_NOT_SUPPORTED]
    assert ledger.balance(ALICE).debits_pending == 50_00  # the hold is untouched
    assert results(ledger, post("h1:post", "h1", amount=50_00)) == [R.OK]  # the full amount is fine
    assert available(ledger, BOB) == 50_00


def test_post_or_void_twice(ledger: SqlLedger) -> None:
    assert results(ledger, pay("h1", 10_00, flags=PENDING), pay("h2", 10_00, flags=PENDING)) == [
        R.OK,
        R.OK,
    ]
    assert results(ledger, post("h1:post", "h1")) == [R.OK]
    assert results(ledger, post("h1:post", "h1")) == [R.EXISTS]  # a retry
    assert results(ledger, post("h1:again", "h1"), void("h1:void", "h1")) == [
        R.PENDING_TRANSFER_ALREADY_POSTED,
        R.PENDING_TRANSFER_ALREADY_POSTED,
    ]
    assert results(ledger, void("h2:void", "h2")) == [R.OK]
    assert results(ledger, void("h2:void", "h2")) == [R.EXISTS]
    assert results(ledger, void("h2:again", "h2"), post("h2:post", "h2")) == [
        R.PENDING_TRANSFER_ALREADY_VOIDED,
        R.PENDING_TRANSFER_ALREADY_VOIDED,
    ]
    assert results(ledger, post("x", "nope"), post("y", "topup")) == [
        R.PENDING_TRANSFER_NOT_FOUND,
        R.PENDING_TRANSFER_NOT_PENDING,
    ]
    assert results(
        ledger,
        pay("h3", 1_00, flags=PENDING),
        Transfer("z", ALICE, CAROL, 0, "", flags=POST, pending_id="h3"),
    ) == [R.OK, R.PENDING_TRANSFER_HAS_DIFFERENT_FIELDS]
    assert available(ledger, ALICE) == 89_00
    assert available(ledger, BOB) == 10_00


def test_a_hold_times_out(ledger: SqlLedger, clock: ManualClock) -> None:
    assert results(ledger, pay("h1", 60_00, flags=PENDING, timeout_s=900)) == [R.OK]
    assert results(ledger, pay("h2", 10_00, flags=PENDING)) == [R.OK]  # no timeout
    clock.at = T0 + timedelta(seconds=899)
    assert ledger.expire_pending(clock.at) == []
    clock.at = T0 + timedelta(seconds=900)
    # Past the deadline the hold cannot be posted, even before the sweeper runs.
    assert results(ledger, post("h1:post", "h1")) == [R.PENDING_TRANSFER_EXPIRED]
    assert ledger.expire_pending(clock.at) == ["h1"]
    assert ledger.expire_pending(clock.at) == []
    assert available(ledger, ALICE) == 90_00
    assert ledger.balance(BOB).credits_pending == 10_00
    assert results(ledger, post("h1:post", "h1"), void("h1:void", "h1")) == [
        R.PENDING_TRANSFER_EXPIRED,
        R.PENDING_TRANSFER_EXPIRED,
    ]
    assert {t.id: t.state for t in ledger.transfers_of(BOB)} == {"h1": "expired", "h2": "pending"}


def test_a_payment_and_its_fee_fail_together(ledger: SqlLedger) -> None:
    payment = pay("pay", 95_00, flags=LINKED, code="payment")
    fee = pay("pay:fee", 6_00, credit=FEES, code="fee")  # 101.00 > 100.00
    assert results(ledger, payment, fee) == [R.LINKED_EVENT_FAILED, R.EXCEEDS_CREDITS]
    assert available(ledger, ALICE) == 100_00
    assert available(ledger, BOB) == 0
    assert ledger.transfers_of(FEES) == []
    # Other chains and lone transfers in the batch are unaffected.
    assert results(
        ledger,
        pay("a", 10_00, flags=LINKED),
        pay("a:fee", 1_00, credit=FEES),
        pay("b", 1_00, flags=LINKED),
        pay("b:bad", 1_00, credit="wallet:nobody", flags=LINKED),
        pay("b:last", 1_00),
        pay("c", 1_00),
        pay("open", 1_00, flags=LINKED),
    ) == [
        R.OK,
        R.OK,
        R.LINKED_EVENT_FAILED,
        R.ACCOUNT_NOT_FOUND,
        R.LINKED_EVENT_FAILED,
        R.OK,
        R.LINKED_EVENT_CHAIN_OPEN,
    ]
    assert available(ledger, ALICE) == 88_00
    assert ledger.balance(FEES).posted == 1_00
    # The chain retried as a whole: EXISTS counts as success, nothing moves twice.
    assert results(ledger, pay("a", 10_00, flags=LINKED), pay("a:fee", 1_00, credit=FEES)) == [
        R.EXISTS,
        R.EXISTS,
    ]


def test_a_failed_chain_undoes_a_post_it_made(ledger: SqlLedger) -> None:
    assert results(ledger, pay("h", 10_00, flags=PENDING)) == [R.OK]
    assert results(
        ledger,
        Transfer("h:post", "", "", 0, "", flags=POST | LINKED, pending_id="h"),
        pay("big", 95_00),
    ) == [
        R.LINKED_EVENT_FAILED,
        R.EXCEEDS_CREDITS,
    ]
    assert ledger.balance(ALICE).debits_pending == 10_00
    assert results(ledger, post("h:post", "h")) == [R.OK]


def test_create_accounts_results(ledger: SqlLedger) -> None:
    assert ledger.create_accounts(
        [
            Account(ALICE, "EUR", "wallet", GUARDED),
            Account(ALICE, "EUR", "wallet"),
            Account("org:x", "EUR", "organisation", GUARDED),
            Account("bad", "EUR", "x", GUARDED | AccountFlags.SHARDED),
            Account("bad", "eur", "x"),
            Account("", "EUR", "x"),
        ]
    ) == [
        CreateAccountResult.EXISTS,
        CreateAccountResult.EXISTS_WITH_DIFFERENT_FIELDS,
        CreateAccountResult.OK,
        CreateAccountResult.INVALID,
        CreateAccountResult.INVALID,
        CreateAccountResult.INVALID,
    ]
    assert available(ledger, "org:x") == 0
    with pytest.raises(KeyError):
        ledger.balance("wallet:nobody")


def test_a_sharded_account_spreads_over_rows(ledger: SqlLedger, conn: Connection) -> None:
    for i in range(40):
        assert results(ledger, pay(f"f{i}", 1_00, credit=FEES))[0] == R.OK
    assert ledger.balance(FEES).posted == 40_00
    rows = conn.execute(
        text("SELECT COUNT(*), SUM(credits_posted) FROM ledger_balances WHERE account_id = :a"),
        {"a": FEES},
    ).one()
    used = conn.execute(
        text("SELECT COUNT(*) FROM ledger_balances WHERE account_id = :a AND credits_posted > 0"),
        {"a": FEES},
    ).scalar_one()
    assert tuple(rows) == (16, 40_00)
    assert used > 4


def test_the_database_refuses_what_the_code_never_writes(
    ledger: SqlLedger, conn: Connection
) -> None:
    for sql in (
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency,"
        " code, flags, timeout_s, created_at, state) VALUES ('x', 'wallet:alice', 'wallet:bob',"
        " 0, 'EUR', 'x', 0, 0, '2026-01-01', 'posted')",
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency,"
        " code, flags, timeout_s, created_at, state) VALUES ('x', 'wallet:alice', 'wallet:alice',"
        " 1, 'EUR', 'x', 0, 0, '2026-01-01', 'posted')",
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency,"
        " code, flags, timeout_s, created_at, state) VALUES ('topup', 'wallet:alice',"
        " 'wallet:bob', 1, 'EUR', 'x', 0, 0, '2026-01-01', 'posted')",
        "UPDATE ledger_balances SET debits_posted = debits_posted + 100001"
        " WHERE account_id = 'wallet:alice'",
    ):
        savepoint = conn.begin_nested()
        with pytest.raises(IntegrityError):
            conn.execute(text(sql))
        savepoint.rollback()


def test_check_reports_a_ledger_that_does_not_add_up(ledger: SqlLedger, conn: Connection) -> None:
    assert ledger_check.check(conn) == []
    savepoint = conn.begin_nested()
    conn.execute(
        text(
            "UPDATE ledger_balances SET credits_posted = credits_posted + 1 WHERE account_id = :a"
        ),
        {"a": BOB},
    )
    problems = ledger_check.check(conn)
    savepoint.rollback()
    assert any("EUR: posted balances sum to 1" in p for p in problems)
    assert any(p.startswith(BOB) and "transfers sum to" in p for p in problems)
    assert ledger_check.check(conn) == []


def test_history_follows_each_account_across_batches_and_shards(ledger: SqlLedger) -> None:
    for i in range(12):  # one transfer per batch: each lands on its own fees shard
        assert results(ledger, pay(f"fee{i}", 10, credit=FEES))[0] == R.OK
    assert results(ledger, pay("b1", 1_00), pay("b2", 50, debit=BOB, credit=CAROL)) == [
        R.OK,
        R.OK,
    ]
    assert [t.id for t in ledger.transfers_of(ALICE, limit=3)] == ["b1", "fee11", "fee10"]
    assert [t.id for t in ledger.transfers_of(BOB)] == ["b2", "b1"]
    assert [t.id for t in ledger.transfers_of(FEES)] == [f"fee{i}" for i in reversed(range(12))]
    assert [t.id for t in ledger.transfers_of(FEES, limit=2)] == ["fee11", "fee10"]
    assert ledger.transfers_of("wallet:nobody") == []


def test_a_hold_on_a_sharded_account_resolves_from_another_batch(ledger: SqlLedger) -> None:
    # Escrow for someone not yet a member: the hold and its post land on different shards.
    escrow = ids.escrow("EUR")
    ledger.create_accounts([Account(escrow, "EUR", "escrow", AccountFlags.SHARDED)])
    assert results(ledger, pay("e1", 20_00, credit=escrow, flags=PENDING)) == [R.OK]
    assert results(ledger, pay("e2", 5_00, credit=escrow, flags=PENDING)) == [R.OK]
    assert results(ledger, post("e1:post", "e1")) == [R.OK]
    assert results(ledger, void("e2:void", "e2")) == [R.OK]
    assert results(ledger, pay("e3", 10_00, debit=escrow, credit=CAROL)) == [R.OK]
    assert ledger.balance(escrow) == AccountBalance(escrow, "EUR", 0, 10_00, 0, 20_00)
    assert available(ledger, ALICE) == 80_00


def test_check_reports_a_broken_history(ledger: SqlLedger, conn: Connection) -> None:
    assert results(ledger, pay("p1", 1_00), pay("p2", 1_00), pay("p3", 1_00)) == [R.OK] * 3
    savepoint = conn.begin_nested()
    # Skip p2 in Bob's chain: p3 now points past it.
    conn.execute(
        text(
            "UPDATE ledger_transfers SET credit_prev = (SELECT credit_prev FROM ledger_transfers"
            " WHERE id = 'p2') WHERE id = 'p3'"
        )
    )
    problems = ledger_check.check(conn)
    savepoint.rollback()
    assert any("broken history link" in p for p in problems), problems
