"""The ledger's decisions, pure: given the balances and transfers a batch touches, decide
every transfer's outcome and the changes to write. No I/O: the SQL store and the
in-memory ledger both feed this, so the semantics are tested once, without a database.

TigerBeetle semantics, with two deliberate differences: ``EXISTS`` counts as success
(a linked chain that is retried as a whole is not failed by its own first attempt),
and a post must take the whole pending amount (partial posts are refused).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
# What the columns hold: longer input is INVALID, never a database error.
MAX_AMOUNT = 2**63 - 1  # BIGINT
MAX_ID, MAX_CODE, MAX_REFERENCE = 100, 32, 200
MAX_TIMEOUT_S = 2**31 - 1  # INTEGER
# Plain ints: IntFlag arithmetic costs microseconds per operation, on the hot path.
_LINKED = int(TransferFlags.LINKED)
_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING_TRANSFER)
_VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_TWO_PHASE = _POST | _VOID
_KNOWN_FLAGS = _LINKED | _PENDING | _TWO_PHASE
_GUARD_DEBITS = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_GUARD_CREDITS = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_SHARDED = int(AccountFlags.SHARDED)

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
    """What one accepted transfer did, so a failed linked chain can undo it."""

    transfer_id: str
    kind: str  # "pending", "posted", "post", "void"
    debit: Balance
    credit: Balance
    amount: int
    pending: StoredTransfer | None = None  # for a post or void: the hold it resolved
    pending_state: str = PENDING  # ... and that hold's state before


def _shift(kind: str, d: Balance, c: Balance, amount: int) -> None:
    """Moves ``amount`` on a debit and a credit balance (negative to undo)."""
    if kind == "posted":
        d.debits_posted += amount
        c.credits_posted += amount
    elif kind == "pending":
        d.debits_pending += amount
        c.credits_pending += amount
    else:  # "post" or "void" releases the hold; a post also posts it
        d.debits_pending -= amount
        c.credits_pending -= amount
        if kind == "post":
            d.debits_posted += amount
            c.credits_posted += amount


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


def _malformed(t: Transfer, f: int) -> bool:
    """Bad flags, or a field that does not fit what is stored (``MAX_*``)."""
    if (
        f & ~_KNOWN_FLAGS
        or not 0 < len(t.id) <= MAX_ID
        or not 0 <= t.timeout_s <= MAX_TIMEOUT_S
        or t.amount > MAX_AMOUNT
        or len(t.code) > MAX_CODE
        or (t.reference is not None and len(t.reference) > MAX_REFERENCE)
    ):
        return True
    if f & _TWO_PHASE:
        # post or void (not both), of a named pending transfer, never itself pending
        return (
            (f & _TWO_PHASE) == _TWO_PHASE
            or bool(f & _PENDING)
            or not t.pending_id
            or t.pending_id == t.id
            or t.timeout_s != 0
            or t.amount < 0
        )
    return t.pending_id is not None or (t.timeout_s != 0 and not f & _PENDING)


class Rules:
    """Applies a batch to in-memory state; the caller loaded everything the batch touches.

    ``balances`` must hold every existing account of ``accounts``; ``known`` every
    stored transfer whose id is in the batch or is a batch's ``pending_id``. Both are
    updated in place as the batch applies (the caller owns fresh copies). A pending
    transfer whose accounts are missing from ``balances`` counts as not found.
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
        self._guards = {a.id: int(a.flags) for a in accounts.values()}

    def decide(self, transfers: Sequence[Transfer]) -> Decision:
        initial = {a: _values(b) for a, b in self.balances.items()}
        outcomes: list[TransferOutcome] = []
        created: dict[str, StoredTransfer] = {}
        resolved: dict[str, str] = {}
        chain: list[_Effect | None] = []  # effects of the open linked chain
        chain_start = 0
        chain_failed = False
        last = len(transfers) - 1
        for i, t in enumerate(transfers):
            flags = int(t.flags)
            linked = bool(flags & _LINKED)
            effect = None
            if chain_failed:
                result = R.LINKED_EVENT_FAILED
            elif linked and i == last:
                result = R.LINKED_EVENT_CHAIN_OPEN
            else:
                # Undo information only inside a linked chain (nothing else is undone).
                track = linked or bool(chain)
                result, effect = self._apply(t, flags, created, resolved, track)
            outcomes.append(TransferOutcome(t.id, result))
            if not (linked or chain):  # a lone transfer
                chain_start = i + 1
                continue
            chain.append(effect)  # inside a chain; its last member has no LINKED flag
            if result is not R.OK and result is not R.EXISTS and not chain_failed:
                chain_failed = True
                for j in range(chain_start, i):  # earlier members fail with the chain
                    outcomes[j] = TransferOutcome(transfers[j].id, R.LINKED_EVENT_FAILED)
                for undo in reversed(chain):
                    if undo is not None:
                        self._undo(undo, created, resolved)
            if not linked:  # the chain is closed
                chain, chain_failed, chain_start = [], False, i + 1
        deltas = {}
        for account, (dp, dpo, cp, cpo) in initial.items():
            b = self.balances[account]
            delta = Balance(
                b.debits_pending - dp,
                b.debits_posted - dpo,
                b.credits_pending - cp,
                b.credits_posted - cpo,
            )
            if (
                delta.debits_pending
                or delta.debits_posted
                or delta.credits_pending
                or delta.credits_posted
            ):
                deltas[account] = delta
        return Decision(outcomes, list(created.values()), resolved, deltas)

    # -- one transfer -------------------------------------------------------------

    def _apply(  # noqa: PLR0911 -- one return per result, in order of precedence
        self,
        t: Transfer,
        flags: int,
        created: dict[str, StoredTransfer],
        resolved: dict[str, str],
        track: bool,
    ) -> tuple[CreateTransferResult, _Effect | None]:
        stored = created.get(t.id) or self.known.get(t.id)
        if stored is not None:
            return (R.EXISTS if _same(stored, t) else R.EXISTS_WITH_DIFFERENT_FIELDS), None
        if _malformed(t, flags):
            return R.INVALID, None
        if flags & _TWO_PHASE:
            return self._resolve(t, flags, created, resolved)

        amount = t.amount
        if amount <= 0 or t.debit_account_id == t.credit_account_id:
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
            self._guards[debit.id] & _GUARD_DEBITS
            and d.debits_pending + d.debits_posted + amount > d.credits_posted
        ):
            return R.EXCEEDS_CREDITS, None
        if (
            self._guards[credit.id] & _GUARD_CREDITS
            and c.credits_pending + c.credits_posted + amount > c.debits_posted
        ):
            return R.EXCEEDS_DEBITS, None

        pending = bool(flags & _PENDING)
        expires_at = self.now + timedelta(seconds=t.timeout_s) if t.timeout_s else None
        created[t.id] = StoredTransfer(
            t.id, debit.id, credit.id, amount, t.currency, t.code, t.flags, None,
            t.timeout_s, t.reference, expires_at, PENDING if pending else POSTED,
        )  # fmt: skip
        kind = "pending" if pending else "posted"
        _shift(kind, d, c, amount)
        return R.OK, _Effect(t.id, kind, d, c, amount) if track else None

    def _resolve(  # noqa: PLR0911 -- one return per result, in order of precedence
        self,
        t: Transfer,
        flags: int,
        created: dict[str, StoredTransfer],
        resolved: dict[str, str],
    ) -> tuple[CreateTransferResult, _Effect | None]:
        """Post or void the pending transfer ``t.pending_id``."""
        pending_id = t.pending_id or ""  # set: checked by _malformed
        p = created.get(pending_id) or self.known.get(pending_id)
        if p is None or not (
            p.debit_account_id in self.balances and p.credit_account_id in self.balances
        ):
            # Without its accounts' balances, the hold appeared after the caller looked for
            # it (created concurrently): as of the caller's reads, it did not exist yet.
            return R.PENDING_TRANSFER_NOT_FOUND, None
        if not p.flags & _PENDING:
            return R.PENDING_TRANSFER_NOT_PENDING, None
        if (
            t.debit_account_id not in ("", p.debit_account_id)
            or t.credit_account_id not in ("", p.credit_account_id)
            or t.currency not in ("", p.currency)
        ):
            return R.PENDING_TRANSFER_HAS_DIFFERENT_FIELDS, None
        post = bool(flags & _POST)
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
            t.id, p.debit_account_id, p.credit_account_id, p.amount, p.currency,
            t.code or p.code, t.flags, p.id, 0, t.reference, None, POSTED if post else VOIDED,
        )  # fmt: skip
        p.state = POSTED if post else VOIDED
        if p.id not in created:  # stored earlier: its row must be updated
            resolved[p.id] = p.state
        kind = "post" if post else "void"
        d = self.balances[p.debit_account_id]
        c = self.balances[p.credit_account_id]
        _shift(kind, d, c, p.amount)
        return R.OK, _Effect(t.id, kind, d, c, p.amount, p, state)

    def _undo(
        self, effect: _Effect, created: dict[str, StoredTransfer], resolved: dict[str, str]
    ) -> None:
        _shift(effect.kind, effect.debit, effect.credit, -effect.amount)
        created.pop(effect.transfer_id, None)
        if effect.pending is not None:
            effect.pending.state = effect.pending_state
            resolved.pop(effect.pending.id, None)


def _values(b: Balance) -> tuple[int, int, int, int]:
    return (b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted)


def expire(
    pending: Sequence[StoredTransfer], balances: dict[str, Balance], now: datetime
) -> tuple[list[str], dict[str, Balance]]:
    """Release the holds of pending transfers past their timeout; returns (ids, deltas)."""
    expired: list[str] = []
    deltas: dict[str, Balance] = {}
    for p in pending:
        if p.state != PENDING or p.expires_at is None or now < p.expires_at:
            continue
        d, c = p.debit_account_id, p.credit_account_id
        _shift("void", balances[d], balances[c], p.amount)
        _shift("void", deltas.setdefault(d, Balance()), deltas.setdefault(c, Balance()), p.amount)
        p.state = EXPIRED
        expired.append(p.id)
    return expired, deltas


def valid_account(a: Account) -> bool:
    """An id and a code that fit their columns, an ISO currency code, known flags, and
    SHARDED only without a balance check (a check needs the whole balance on one row)."""
    flags = int(a.flags)
    return (
        0 < len(a.id) <= MAX_ID
        and len(a.currency) == 3
        and a.currency.isascii()
        and a.currency.isupper()
        and 0 < len(a.code) <= MAX_CODE
        and not flags & ~(_GUARD_DEBITS | _GUARD_CREDITS | _SHARDED)
        and not (flags & _SHARDED and flags & (_GUARD_DEBITS | _GUARD_CREDITS))
    )
