"""Many writers at once, each with its own connection and transaction: no lost update, no
double spend, no deadlock. PostgreSQL gets the full load; SQLite (one writer at a time by
design) a smaller one."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from envoi.adapters.db.engine import make_engine
from envoi.adapters.db.ledger_store import SqlLedger, transact
from envoi.ledger.model import (
    Account,
    AccountFlags,
    CreateTransferResult,
    Transfer,
    TransferFlags,
    TransferOutcome,
)

R = CreateTransferResult
GUARDED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CARDS, FEES = "system:card_clearing:EUR", "system:fees:EUR"


def now() -> datetime:
    return datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def writers_engine(engine: Engine) -> Iterator[Engine]:
    """A second engine on the test database with a connection per writer thread."""
    url = engine.url.render_as_string(hide_password=False)
    options = {"pool_size": 20, "max_overflow": 0} if engine.dialect.name == "postgresql" else {}
    own = make_engine(url, **options)
    yield own
    own.dispose()


def setup(engine: Engine, wallets: dict[str, int]) -> None:
    """Creates the system accounts and funded guarded wallets."""
    with engine.begin() as conn:
        ledger = SqlLedger(conn, now)
        ledger.create_accounts(
            [
                Account(CARDS, "EUR", "card_clearing", AccountFlags.SHARDED),
                Account(FEES, "EUR", "fees", AccountFlags.SHARDED),
                *(Account(w, "EUR", "wallet", GUARDED) for w in wallets),
            ]
        )
        funding = [Transfer(f"fund:{w}", CARDS, w, a, "EUR") for w, a in wallets.items() if a]
        assert all(o.ok for o in ledger.create_transfers(funding))


def submit(engine: Engine, transfers: Sequence[Transfer]) -> list[TransferOutcome]:
    return transact(engine, lambda conn: SqlLedger(conn, now).create_transfers(transfers))


def run_threads(count: int, work: Callable[[int], None]) -> None:
    """Runs ``work(i)`` in ``count`` threads released together; re-raises their errors."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    if errors:
        raise errors[0]


def deadlocks(engine: Engine) -> int:
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


def balance(engine: Engine, account_id: str) -> tuple[int, int]:
    with engine.connect() as conn:
        b = SqlLedger(conn, now).balance(account_id)
        return b.available, b.posted


def drain(writers_engine: Engine, threads: int, attempts: int, units: int) -> None:
    """``threads`` writers each try ``attempts`` payments of 9 + a linked fee of 1 from
    one wallet holding ``units`` x 10: exactly ``units`` payments may pass."""
    setup(writers_engine, {"wallet:src": units * 10, "wallet:a": 0, "wallet:b": 0})
    outcomes: list[list[TransferOutcome]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for n in range(attempts):
            payee = "wallet:a" if (i + n) % 2 else "wallet:b"
            pair = [
                Transfer(f"p{i}.{n}", "wallet:src", payee, 9, "EUR", flags=TransferFlags.LINKED),
                Transfer(f"p{i}.{n}:fee", "wallet:src", FEES, 1, "EUR"),
            ]
            result = submit(writers_engine, pair)
            with lock:
                outcomes.append(result)

    before = deadlocks(writers_engine)
    run_threads(threads, work)

    kinds = Counter((p.result, f.result) for p, f in outcomes)
    refused = (R.EXCEEDS_CREDITS, R.LINKED_EVENT_FAILED)
    assert set(kinds) <= {(R.OK, R.OK), refused}
    assert kinds[(R.OK, R.OK)] == units
    assert kinds[refused] == threads * attempts - units
    assert balance(writers_engine, "wallet:src") == (0, 0)
    paid = balance(writers_engine, "wallet:a")[1] + balance(writers_engine, "wallet:b")[1]
    assert paid == units * 9
    assert balance(writers_engine, FEES)[1] == units
    assert deadlocks(writers_engine) == before


def test_sixteen_writers_drain_one_wallet_to_exactly_zero(writers_engine: Engine) -> None:
    """On PostgreSQL the writers contend on row locks; on SQLite on the write lock."""
    drain(writers_engine, threads=16, attempts=25, units=250)


def test_a_sharded_account_takes_concurrent_fees_without_losing_any(
    writers_engine: Engine, is_postgres: bool
) -> None:
    threads, per_thread = (16, 40) if is_postgres else (4, 20)
    setup(writers_engine, {f"wallet:{i}": per_thread for i in range(threads)})

    def work(i: int) -> None:
        for n in range(per_thread):
            [outcome] = submit(
                writers_engine, [Transfer(f"f{i}.{n}", f"wallet:{i}", FEES, 1, "EUR")]
            )
            assert outcome.result == R.OK

    before = deadlocks(writers_engine)
    run_threads(threads, work)
    assert balance(writers_engine, FEES)[1] == threads * per_thread
    assert deadlocks(writers_engine) == before
    with writers_engine.connect() as conn:
        shards_used = conn.execute(
            text(
                "SELECT COUNT(*) FROM ledger_balances WHERE account_id = :a AND credits_posted > 0"
            ),
            {"a": FEES},
        ).scalar_one()
    assert shards_used > 8


def test_crossing_payments_do_not_deadlock(writers_engine: Engine, is_postgres: bool) -> None:
    threads, rounds = (8, 30) if is_postgres else (4, 10)
    setup(writers_engine, {"wallet:x": 10_000, "wallet:y": 10_000, "wallet:z": 10_000})
    routes = [("wallet:x", "wallet:y"), ("wallet:y", "wallet:x"), ("wallet:z", "wallet:x")]

    def work(i: int) -> None:
        for n in range(rounds):
            debit, credit = routes[(i + n) % len(routes)]
            other = "wallet:z" if credit != "wallet:z" and debit != "wallet:z" else "wallet:y"
            batch = [
                Transfer(f"c{i}.{n}", debit, credit, 3, "EUR", flags=TransferFlags.LINKED),
                Transfer(f"c{i}.{n}:b", credit, other, 1, "EUR"),
            ]
            assert all(o.ok for o in submit(writers_engine, batch))

    before = deadlocks(writers_engine)
    run_threads(threads, work)
    assert deadlocks(writers_engine) == before
    total = sum(balance(writers_engine, w)[1] for w in ("wallet:x", "wallet:y", "wallet:z"))
    assert total == 30_000


def test_one_hold_posted_and_voided_at_once_resolves_once(
    writers_engine: Engine, is_postgres: bool
) -> None:
    threads = 12 if is_postgres else 4
    setup(writers_engine, {"wallet:src": 100, "wallet:dst": 0})
    hold = Transfer("hold", "wallet:src", "wallet:dst", 60, "EUR", flags=TransferFlags.PENDING)
    assert submit(writers_engine, [hold])[0].ok
    results: list[TransferOutcome] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        flag = TransferFlags.POST_PENDING_TRANSFER if i % 2 else TransferFlags.VOID_PENDING_TRANSFER
        [outcome] = submit(
            writers_engine, [Transfer(f"r{i}", "", "", 0, "", flags=flag, pending_id="hold")]
        )
        with lock:
            results.append(outcome)

    run_threads(threads, work)
    winners = [o for o in results if o.result == R.OK]
    assert len(winners) == 1
    posted = int(winners[0].id[1:]) % 2 == 1
    loser = R.PENDING_TRANSFER_ALREADY_POSTED if posted else R.PENDING_TRANSFER_ALREADY_VOIDED
    assert Counter(o.result for o in results) == {R.OK: 1, loser: threads - 1}
    assert balance(writers_engine, "wallet:dst")[1] == (60 if posted else 0)


def test_the_same_new_transfer_sent_by_many_writers_is_created_once(
    writers_engine: Engine, is_postgres: bool
) -> None:
    threads = 12 if is_postgres else 4
    setup(writers_engine, {"wallet:src": 100, "wallet:dst": 0})
    results: list[TransferOutcome] = []
    lock = threading.Lock()

    def work(_: int) -> None:
        [outcome] = submit(
            writers_engine, [Transfer("once", "wallet:src", "wallet:dst", 70, "EUR")]
        )
        with lock:
            results.append(outcome)

    run_threads(threads, work)
    assert Counter(o.result for o in results) == {R.OK: 1, R.EXISTS: threads - 1}
    assert balance(writers_engine, "wallet:src") == (30, 30)
