"""The ledger's decisions, pure: given the balances and transfers a batch touches, decide
every transfer's outcome and the changes to write. No I/O: the SQL store and the
in-memory ledger both feed this, so the semantics are tested once, without a database.

TigerBeetle semantics, with two deliberate differences: ``EXISTS`` counts as success
(a linked chain that is retried as a whole is not failed by its own first attempt),
and a post must take the whole pending amount (partial posts are refused).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from envoi.ledger.model import (
    Account,
    AccountFlags,
    CreateTransferResult,
    Transfer,
    TransferFlags,
    TransferOutcome,
)

R = CreateTransferResult
MAX_AMOUNT = 2**63 - 1  # a BIGINT column
_TWO_PHASE = TransferFlags.POST_PENDING_TRANSFER | TransferFlags.VOID_PENDING_TRANSFER
_KNOWN_FLAGS = TransferFlags.LINKED | TransferFlags.PENDING | _TWO_PHASE

POSTED, PENDING, VOIDED, EXPIRED = "posted", "pending", "voided", "expired"


@dataclass(slots=True)
class Balance:
    """One balance row (or, for a sharded account, the shard this batch writes to)."""

    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0


@dataclass(slots=True)
class StoredTransfer:
    """A transfer as stored: amounts and accounts resolved (a post stores what it posted)."""

    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: str
    flags: TransferFlags
    pending_id: str | None
    timeout_s: int
    reference: str | None
    expires_at: datetime | None
    state: str


@dataclass(slots=True)
class Decision:
    outcomes: list[TransferOutcome]
    created: list[StoredTransfer]  # rows to insert, in order
    resolved: dict[str, str]  # pending transfer id -> its new state
    deltas: dict[str, Balance]  # account id -> change of its balance (only non-zero)


@dataclass(slots=True)
class _Effect:
    """What one accepted transfer changed, so a failed linked chain can be undone."""

    transfer_id: str
    moves: list[tuple[str, str, int]] = field(default_factory=list)  # (account, field, amount)
    resolved: tuple[StoredTransfer, str] | None = None  # (pending transfer, previous state)


def _same(stored: StoredTransfer, t: Transfer) -> bool:
    """Whether a retry carries the fields of the stored transfer. For a post or void,
    empty accounts/currency/code and amount 0 mean "as the pending transfer"."""
    two_phase = bool(t.flags & _TWO_PHASE)

    def eq(asked: object, stored_value: object, wildcard: object) -> bool:
        return asked == stored_value or (two_phase and asked == wildcard)

    return (
        t.flags == stored.flags
        and t.pending_id == stored.pending_id
        and t.timeout_s == stored.timeout_s
        and t.reference == stored.reference
        and eq(t.debit_account_id, stored.debit_account_id, "")
        and eq(t.credit_account_id, stored.credit_account_id, "")
        and eq(t.amount, stored.amount, 0)
        and eq(t.currency, stored.currency, "")
        and eq(t.code, stored.code, "")
    )


def _flags_invalid(t: Transfer) -> bool:
    f = t.flags
    if f & ~_KNOWN_FLAGS or not t.id or t.timeout_s < 0:
        return True
    if f & _TWO_PHASE:
        # post or void (not both), of a named pending transfer, never itself pending
        return (
            (f & _TWO_PHASE) == _TWO_PHASE
            or bool(f & TransferFlags.PENDING)
            or not t.pending_id
            or t.pending_id == t.id
            or t.timeout_s != 0
            or t.amount < 0
        )
    return t.pending_id is not None or (t.timeout_s != 0 and not f & TransferFlags.PENDING)


class Rules:
    """Applies a batch to in-memory state; the caller loaded everything the batch touches.

    ``balances`` must hold every existing account of ``accounts``; ``known`` every
    stored transfer whose id is in the batch or is a batch's ``pending_id``. Both are
    updated in place as the batch applies (the caller owns fresh copies).
    """

    def __init__(
        self,
        accounts: Mapping[str, Account],
        balances: dict[str, Balance],
        known: dict[str, StoredTransfer],
        now: datetime,
    ) -> None:
        self.accounts = accounts
        self.balances = balances
        self.known = known
        self.now = now

    def decide(self, transfers: Sequence[Transfer]) -> Decision:
        outcomes: list[TransferOutcome] = []
        created: dict[str, StoredTransfer] = {}
        resolved: dict[str, str] = {}
        deltas: dict[str, Balance] = {}
        chain: list[_Effect | None] = []  # effects of the open linked chain
        chain_start = 0
        chain_failed = False
        last = len(transfers) - 1
        for i, t in enumerate(transfers):
            linked = bool(t.flags & TransferFlags.LINKED)
            if chain_failed:
                result = R.LINKED_EVENT_FAILED
                effect = None
            elif linked and i == last:
                result, effect = R.LINKED_EVENT_CHAIN_OPEN, None
            else:
                result, effect = self._apply(t, created, resolved, deltas)
            outcomes.append(TransferOutcome(t.id, result))
            ok = result in (R.OK, R.EXISTS)
            if linked or chain:  # inside a chain (its last member has no LINKED flag)
                chain.append(effect)
                if not ok and not chain_failed:
                    chain_failed = True
                    for j in range(chain_start, i):  # earlier members fail with the chain
                        outcomes[j] = TransferOutcome(transfers[j].id, R.LINKED_EVENT_FAILED)
                    for undo in reversed(chain):
                        if undo is not None:
                            self._undo(undo, created, resolved, deltas)
                if not linked:  # chain closed
                    chain, chain_failed = [], False
                    chain_start = i + 1
            else:
                chain_start = i + 1
        return Decision(
            outcomes,
            list(created.values()),
            resolved,
            {a: d for a, d in deltas.items() if d != Balance()},
        )

    # -- one transfer -------------------------------------------------------------

    def _apply(  # noqa: PLR0911 -- one return per result, in order of precedence
        self,
        t: Transfer,
        created: dict[str, StoredTransfer],
        resolved: dict[str, str],
        deltas: dict[str, Balance],
    ) -> tuple[CreateTransferResult, _Effect | None]:
        stored = created.get(t.id) or self.known.get(t.id)
        if stored is not None:
            return (R.EXISTS if _same(stored, t) else R.EXISTS_WITH_DIFFERENT_FIELDS), None
        if _flags_invalid(t) or t.amount > MAX_AMOUNT:
            return R.INVALID, None
        if t.flags & _TWO_PHASE:
            return self._resolve(t, created, resolved, deltas)

        if t.amount <= 0 or t.debit_account_id == t.credit_account_id:
            return R.INVALID, None
        debit = self.accounts.get(t.debit_account_id)
        credit = self.accounts.get(t.credit_account_id)
        if debit is None or credit is None:
            return R.ACCOUNT_NOT_FOUND, None
        if not t.currency == debit.currency == credit.currency:
            return R.CURRENCY_MISMATCH, None
        d = self.balances[debit.id]
        c = self.balances[credit.id]
        if (
            debit.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
            and d.debits_pending + d.debits_posted + t.amount > d.credits_posted
        ):
            return R.EXCEEDS_CREDITS, None
        if (
            credit.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
            and c.credits_pending + c.credits_posted + t.amount > c.debits_posted
        ):
            return R.EXCEEDS_DEBITS, None

        pending = bool(t.flags & TransferFlags.PENDING)
        expires_at = self.now + timedelta(seconds=t.timeout_s) if pending and t.timeout_s else None
        created[t.id] = StoredTransfer(
            t.id,
            debit.id,
            credit.id,
            t.amount,
            t.currency,
            t.code,
            t.flags,
            None,
            t.timeout_s,
            t.reference,
            expires_at,
            PENDING if pending else POSTED,
        )
        effect = _Effect(t.id)
        if pending:
            self._move(effect, deltas, debit.id, "debits_pending", t.amount)
            self._move(effect, deltas, credit.id, "credits_pending", t.amount)
        else:
            self._move(effect, deltas, debit.id, "debits_posted", t.amount)
            self._move(effect, deltas, credit.id, "credits_posted", t.amount)
        return R.OK, effect

    def _resolve(  # noqa: PLR0911 -- one return per result, in order of precedence
        self,
        t: Transfer,
        created: dict[str, StoredTransfer],
        resolved: dict[str, str],
        deltas: dict[str, Balance],
    ) -> tuple[CreateTransferResult, _Effect | None]:
        """Post or void the pending transfer ``t.pending_id``."""
        pending_id = t.pending_id or ""  # set: checked by _flags_invalid
        p = created.get(pending_id) or self.known.get(pending_id)
        if p is None:
            return R.PENDING_TRANSFER_NOT_FOUND, None
        if not p.flags & TransferFlags.PENDING:
            return R.PENDING_TRANSFER_NOT_PENDING, None
        if (
            t.debit_account_id not in ("", p.debit_account_id)
            or t.credit_account_id not in ("", p.credit_account_id)
            or t.currency not in ("", p.currency)
        ):
            return R.PENDING_TRANSFER_HAS_DIFFERENT_FIELDS, None
        post = bool(t.flags & TransferFlags.POST_PENDING_TRANSFER)
        if t.amount not in (0, p.amount):
            return (
                R.PARTIAL_POST_NOT_SUPPORTED if post else R.PENDING_TRANSFER_HAS_DIFFERENT_FIELDS
            ), None
        state = p.state
        if state == POSTED:
            return R.PENDING_TRANSFER_ALREADY_POSTED, None
        if state == VOIDED:
            return R.PENDING_TRANSFER_ALREADY_VOIDED, None
        if state == EXPIRED or (p.expires_at is not None and self.now >= p.expires_at):
            return R.PENDING_TRANSFER_EXPIRED, None

        created[t.id] = StoredTransfer(
            t.id,
            p.debit_account_id,
            p.credit_account_id,
            p.amount,
            p.currency,
            t.code or p.code,
            t.flags,
            p.id,
            0,
            t.reference,
            None,
            POSTED if post else VOIDED,
        )
        effect = _Effect(t.id, resolved=(p, state))
        p.state = POSTED if post else VOIDED
        if p.id not in created:  # stored earlier: its row must be updated
            resolved[p.id] = p.state
        self._move(effect, deltas, p.debit_account_id, "debits_pending", -p.amount)
        self._move(effect, deltas, p.credit_account_id, "credits_pending", -p.amount)
        if post:
            self._move(effect, deltas, p.debit_account_id, "debits_posted", p.amount)
            self._move(effect, deltas, p.credit_account_id, "credits_posted", p.amount)
        return R.OK, effect

    # -- bookkeeping --------------------------------------------------------------

    def _move(
        self, effect: _Effect, deltas: dict[str, Balance], account: str, name: str, amount: int
    ) -> None:
        balance = self.balances[account]
        setattr(balance, name, getattr(balance, name) + amount)
        delta = deltas.get(account)
        if delta is None:
            delta = deltas[account] = Balance()
        setattr(delta, name, getattr(delta, name) + amount)
        effect.moves.append((account, name, amount))

    def _undo(
        self,
        effect: _Effect,
        created: dict[str, StoredTransfer],
        resolved: dict[str, str],
        deltas: dict[str, Balance],
    ) -> None:
        for account, name, amount in reversed(effect.moves):
            balance = self.balances[account]
            setattr(balance, name, getattr(balance, name) - amount)
            delta = deltas[account]
            setattr(delta, name, getattr(delta, name) - amount)
        created.pop(effect.transfer_id, None)
        if effect.resolved is not None:
            pending, previous = effect.resolved
            pending.state = previous
            resolved.pop(pending.id, None)


def expire(
    pending: Sequence[StoredTransfer], balances: dict[str, Balance], now: datetime
) -> tuple[list[str], dict[str, Balance]]:
    """Release the holds of pending transfers past their timeout; returns (ids, deltas)."""
    expired: list[str] = []
    deltas: dict[str, Balance] = {}
    for p in pending:
        if p.state != PENDING or p.expires_at is None or now < p.expires_at:
            continue
        for account, name in (
            (p.debit_account_id, "debits_pending"),
            (p.credit_account_id, "credits_pending"),
        ):
            for target in (balances[account], deltas.setdefault(account, Balance())):
                setattr(target, name, getattr(target, name) - p.amount)
        p.state = EXPIRED
        expired.append(p.id)
    return expired, deltas
