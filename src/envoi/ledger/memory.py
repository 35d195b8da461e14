"""``MemoryLedger``: the ledger in a few dicts, with the same rules as the SQL store.

For unit tests of services (no database) and for property tests of the rules. Not
thread-safe and not durable; a batch is atomic because the rules never fail half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from envoi.ledger.model import (
    Account,
    AccountBalance,
    CreateAccountResult,
    PostedTransfer,
    Transfer,
    TransferOutcome,
)
from envoi.ledger.rules import Balance, Rules, StoredTransfer, expire, valid_account


class MemoryLedger:
    """Implements ``LedgerStore`` in memory."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.accounts: dict[str, Account] = {}
        self.balances: dict[str, Balance] = {}
        self.transfers: dict[str, StoredTransfer] = {}  # in creation order
        self.created_at: dict[str, datetime] = {}

    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        results = []
        for account in accounts:
            existing = self.accounts.get(account.id)
            if not valid_account(account):
                results.append(CreateAccountResult.INVALID)
            elif existing is None:
                self.accounts[account.id] = account
                self.balances[account.id] = Balance()
                results.append(CreateAccountResult.OK)
            elif existing == account:
                results.append(CreateAccountResult.EXISTS)
            else:
                results.append(CreateAccountResult.EXISTS_WITH_DIFFERENT_FIELDS)
        return results

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[TransferOutcome]:
        now = self.now()
        # The rules work on copies, as the SQL store's rules work on rows it read.
        ids = {t.id for t in transfers} | {t.pending_id for t in transfers if t.pending_id}
        known = {i: replace(self.transfers[i]) for i in ids if i in self.transfers}
        balances = {a: replace(b) for a, b in self.balances.items()}
        decision = Rules(self.accounts, balances, known, now).decide(transfers)
        for t in decision.created:
            self.transfers[t.id] = t
            self.created_at[t.id] = now
        for pending_id, state in decision.resolved.items():
            self.transfers[pending_id].state = state
        self._apply(decision.deltas)
        return decision.outcomes

    def balance(self, account_id: str) -> AccountBalance:
        b = self.balances[account_id]  # KeyError, as the SQL store
        return AccountBalance(
            account_id,
            self.accounts[account_id].currency,
            b.debits_pending,
            b.debits_posted,
            b.credits_pending,
            b.credits_posted,
        )

    def transfers_of(self, account_id: str, *, limit: int = 100) -> list[PostedTransfer]:
        mine = [
            t
            for t in reversed(self.transfers.values())
            if account_id in (t.debit_account_id, t.credit_account_id)
        ]
        return [
            PostedTransfer(
                id=t.id,
                debit_account_id=t.debit_account_id,
                credit_account_id=t.credit_account_id,
                amount=t.amount,
                currency=t.currency,
                code=t.code,
                flags=t.flags,
                pending_id=t.pending_id,
                reference=t.reference,
                created_at=self.created_at[t.id],
                state=t.state,
            )
            for t in mine[:limit]
        ]

    def expire_pending(self, now: datetime, *, limit: int = 1000) -> list[str]:
        due = sorted(
            (
                t
                for t in self.transfers.values()
                if t.state == "pending" and t.expires_at is not None and t.expires_at <= now
            ),
            key=lambda t: t.expires_at or now,  # stable: ties in creation order
        )[:limit]
        balances = {a: replace(b) for a, b in self.balances.items()}
        expired, deltas = expire(due, balances, now)
        self._apply(deltas)
        return expired

    def _apply(self, deltas: dict[str, Balance]) -> None:
        for account_id, d in deltas.items():
            b = self.balances[account_id]
            b.debits_pending += d.debits_pending
            b.debits_posted += d.debits_posted
            b.credits_pending += d.credits_pending
            b.credits_posted += d.credits_posted
