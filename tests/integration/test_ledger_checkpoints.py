"""The fast ledger check: it starts from the last checkpoint, reads only what came since,
and still finds what is wrong in it; the full check re-proves everything."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from envoi import cli
from envoi.adapters.db import ledger_check
from envoi.adapters.db.ledger_store import SqlLedger
from envoi.config import get_settings
from envoi.domain import accounts as ids
from envoi.ledger.model import Account, AccountFlags, Transfer, TransferFlags

GUARDED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
PENDING, POST = TransferFlags.PENDING, TransferFlags.POST_PENDING_TRANSFER
ALICE, BOB = ids.wallet("alice"), ids.wallet("bob")
CARDS, ESCROW = ids.card_clearing("EUR"), ids.escrow("EUR")


def now() -> datetime:
    return datetime.now(UTC)


def write(engine: Engine, *transfers: Transfer) -> None:
    with engine.begin() as conn:
        outcomes = SqlLedger(conn, now).create_transfers(list(transfers))
    assert all(o.ok for o in outcomes), outcomes


def pay(tid: str, amount: int = 1_00, **kw: object) -> Transfer:
    return Transfer(tid, ALICE, BOB, amount, "EUR", **kw)  # type: ignore[arg-type]


@pytest.fixture
def books(engine: Engine) -> Engine:
    with engine.begin() as conn:
        SqlLedger(conn, now).create_accounts(
            [
                Account(ALICE, "EUR", "wallet", GUARDED),
                Account(BOB, "EUR", "wallet", GUARDED),
                Account(CARDS, "EUR", "card_clearing", AccountFlags.SHARDED),
                Account(ESCROW, "EUR", "escrow", AccountFlags.SHARDED),
            ]
        )
    write(engine, Transfer("topup", CARDS, ALICE, 1_000_00, "EUR"))
    return engine


def tamper(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def test_the_first_run_reads_everything_then_only_what_came_since(books: Engine) -> None:
    write(books, *(pay(f"p{i}") for i in range(5)))
    first = ledger_check.check_and_checkpoint(books)
    assert (first.problems, first.since, first.transfers) == ([], 0, 6)

    write(books, pay("q1"), pay("q2", 2_00))
    second = ledger_check.check_and_checkpoint(books)
    assert second.problems == []
    assert (second.since, second.transfers) == (first.upto, 2)
    assert second.upto > first.upto

    nothing_new = ledger_check.check_and_checkpoint(books)
    assert (nothing_new.problems, nothing_new.transfers) == ([], 0)


def test_a_fast_run_finds_a_wrong_amount_in_what_came_since(books: Engine) -> None:
    ledger_check.check_and_checkpoint(books)
    write(books, pay("q1"))
    tamper(books, "UPDATE ledger_transfers SET amount = amount + 1 WHERE id = 'q1'")
    problems = ledger_check.check_and_checkpoint(books).problems
    assert any(p.startswith(ALICE) and "transfers sum to" in p for p in problems), problems
    tamper(books, "UPDATE ledger_transfers SET amount = amount - 1 WHERE id = 'q1'")


def test_a_fast_run_finds_a_balance_changed_behind_the_ledgers_back(books: Engine) -> None:
    ledger_check.check_and_checkpoint(books)
    tamper(
        books,
        "UPDATE ledger_balances SET credits_posted = credits_posted + 5 WHERE account_id = :a",
        a=BOB,
    )
    problems = ledger_check.check_and_checkpoint(books).problems
    assert any("EUR: posted balances sum to 5" in p for p in problems), problems
    tamper(
        books,
        "UPDATE ledger_balances SET credits_posted = credits_posted - 5 WHERE account_id = :a",
        a=BOB,
    )


def test_an_old_row_rewritten_is_for_the_full_run_to_find(books: Engine) -> None:
    write(books, pay("p1"), pay("p2"))
    ledger_check.check_and_checkpoint(books)
    # A verified transfer rewritten behind the ledger's back, balances untouched: the fast
    # run trusts verified rows (its documented limit); the full run reads them again.
    tamper(books, "UPDATE ledger_transfers SET amount = amount + 1 WHERE id = 'p1'")
    assert ledger_check.check_and_checkpoint(books).problems == []
    full = ledger_check.check_and_checkpoint(books, full=True)
    assert any(p.startswith(ALICE) and "transfers sum to" in p for p in full.problems)
    tamper(books, "UPDATE ledger_transfers SET amount = amount - 1 WHERE id = 'p1'")


def test_a_new_transfer_must_link_to_its_accounts_head_not_further_back(books: Engine) -> None:
    write(books, pay("p1"), pay("p2"))
    ledger_check.check_and_checkpoint(books)
    write(books, pay("q1"))
    # q1 on Bob's side skips p2, the verified head, and links to p1.
    tamper(books, "UPDATE ledger_transfers SET credit_prev = 'p1' WHERE id = 'q1'")
    problems = ledger_check.check_and_checkpoint(books).problems
    assert any("broken history link to transfer p1" in p for p in problems), problems
    assert any("broken history link" in p for p in ledger_check.check(books))
    tamper(books, "UPDATE ledger_transfers SET credit_prev = 'p2' WHERE id = 'q1'")


def test_a_hold_verified_pending_then_posted_twice_is_found(books: Engine) -> None:
    write(books, Transfer("h1", ALICE, ESCROW, 20_00, "EUR", flags=PENDING))
    ledger_check.check_and_checkpoint(books)
    write(books, Transfer("h1:post", "", "", 0, "", flags=POST, pending_id="h1"))
    assert ledger_check.check_and_checkpoint(books).problems == []
    # A second post of the same hold, slipped in as a copy of the first.
    tamper(
        books,
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount,"
        " currency, code, flags, timeout_s, created_at, state, pending_id)"
        " SELECT 'h1:again', debit_account_id, credit_account_id, 1, currency, code, flags,"
        " timeout_s, created_at, state, pending_id FROM ledger_transfers WHERE id = 'h1:post'",
    )
    problems = ledger_check.check_and_checkpoint(books).problems
    assert any("pending transfer h1 is posted with 2 posts" in p for p in problems), problems
    tamper(books, "DELETE FROM ledger_transfers WHERE id = 'h1:again'")


def test_checkpoints_taken_while_payments_flow_stay_exact(books: Engine) -> None:
    stop = threading.Event()
    written: list[int] = []

    def payer(name: str) -> None:
        n = 0
        while not stop.is_set() and n < 200:
            write(books, pay(f"{name}{n}", 1))
            n += 1
        written.append(n)

    threads = [threading.Thread(target=payer, args=(f"w{i}-",)) for i in range(3)]
    for t in threads:
        t.start()
    runs = []
    try:
        for _ in range(5):
            runs.append(ledger_check.check_and_checkpoint(books))
    finally:
        stop.set()
        for t in threads:
            t.join()
    runs.append(ledger_check.check_and_checkpoint(books))
    assert [r.problems for r in runs] == [[]] * len(runs)
    # Each run read exactly what the previous checkpoint left: nothing twice, nothing lost.
    assert sum(r.transfers for r in runs) == 1 + sum(written)
    assert ledger_check.check(books) == []


def test_the_command_is_full_first_then_fast_and_says_which(
    books: Engine, database_url: str
) -> None:
    def run(*args: str, code: int = 0) -> str:
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(
                cli.app, ["ledger", "check", *args], env={"ENVOI_DATABASE_URL": database_url}
            )
        finally:
            get_settings.cache_clear()
        assert result.exit_code == code, result.output
        return result.output

    first = run()
    assert "Ledger OK" in first
    assert "(every transfer: 1 read" in first
    write(books, pay("q1"))
    assert "(the transfers after #" in run()
    assert "(every transfer: 2 read" in run("--full")
    tamper(books, "UPDATE ledger_transfers SET amount = amount + 1 WHERE id = 'q1'")
    assert "PROBLEM" in run("--full", code=1)
    tamper(books, "UPDATE ledger_transfers SET amount = amount - 1 WHERE id = 'q1'")
