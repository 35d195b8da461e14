"""The SQL store decides exactly as the in-memory model: the same random history, replayed
on both, gives the same outcomes, balances and histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from envoi.adapters.db.ledger_store import SqlLedger
from envoi.ledger.memory import MemoryLedger
from envoi.ledger.model import Account, AccountFlags, Transfer, TransferFlags

F = TransferFlags
GUARD = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
ACCOUNTS = [
    Account("w:a", "EUR", "wallet", GUARD),
    Account("w:b", "EUR", "wallet", GUARD),
    Account("w:c", "EUR", "wallet", GUARD),
    Account("w:usd", "USD", "wallet", GUARD),
    Account("world", "EUR", "card_clearing", AccountFlags.SHARDED),
    Account("fees", "EUR", "fees", AccountFlags.SHARDED),
    Account("payout", "EUR", "payout", AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS),
]
NAMES = [a.id for a in ACCOUNTS] + ["nobody"]


def random_batch(rng: random.Random, holds: list[str]) -> list[Transfer]:
    batch = []
    for _ in range(rng.randint(1, 8)):
        linked = F.LINKED if rng.random() < 0.2 else F.NONE
        kind = rng.choice(["single", "single", "single", "pending", "post", "void"])
        if kind in ("post", "void") and holds:
            flag = F.POST_PENDING_TRANSFER if kind == "post" else F.VOID_PENDING_TRANSFER
            amount = rng.choice([0, 0, 0, 3])
            batch.append(
                Transfer(f"r{rng.randint(0, 30)}", "", "", amount, "", flags=flag | linked,
                         pending_id=rng.choice(holds))
            )  # fmt: skip
            continue
        pending = kind == "pending"
        debit, credit = rng.sample(NAMES, 2) if rng.random() < 0.95 else [NAMES[0]] * 2
        batch.append(
            Transfer(
                f"{'h' if pending else 's'}{rng.randint(0, 60)}",
                debit,
                credit,
                rng.randint(-1, 150),
                "EUR" if rng.random() < 0.95 else "USD",
                flags=(F.PENDING if pending else F.NONE) | linked,
                timeout_s=rng.choice([0, 30, 90]) if pending else 0,
            )
        )
    return batch


def test_sql_store_and_model_agree_on_a_random_history(engine: Engine) -> None:
    rng = random.Random(20261127)
    at = [datetime(2026, 6, 1, tzinfo=UTC)]

    def clock() -> datetime:
        return at[0]

    model = MemoryLedger(clock)
    with engine.begin() as conn:
        assert SqlLedger(conn, clock).create_accounts(ACCOUNTS) == model.create_accounts(ACCOUNTS)
    funding = [Transfer(f"fund:{a}", "world", a, 200, "EUR") for a in ("w:a", "w:b", "w:c")]
    holds: list[str] = []
    for step in range(120):
        batch = funding if step == 0 else random_batch(rng, holds)
        with engine.begin() as conn:
            store = SqlLedger(conn, clock)
            assert store.create_transfers(batch) == model.create_transfers(batch), step
            holds += [t.id for t in batch if t.flags & F.PENDING and t.id in model.transfers]
            if rng.random() < 0.2:
                at[0] += timedelta(seconds=rng.randint(1, 60))
                assert store.expire_pending(at[0]) == model.expire_pending(at[0])
            for account in ACCOUNTS:
                assert store.balance(account.id) == model.balance(account.id), (step, account)
    with engine.connect() as conn:
        store = SqlLedger(conn, clock)
        for account in ACCOUNTS:
            assert store.transfers_of(account.id, limit=1000) == model.transfers_of(
                account.id, limit=1000
            )
    # The history was not trivial: holds were posted, voided and expired.
    kinds = {(t.flags & ~F.LINKED, t.state) for t in model.transfers.values()}
    assert {(F.PENDING, "posted"), (F.PENDING, "voided"), (F.PENDING, "expired")} <= kinds
    assert len(model.transfers) > 60
