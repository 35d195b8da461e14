"""Turning ledger outcomes into decisions people understand."""

from __future__ import annotations

from collections.abc import Sequence

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.ledger.model import CreateTransferResult, Transfer, TransferFlags, TransferOutcome

_AS_ERROR = {
    CreateTransferResult.EXCEEDS_CREDITS: ErrorCode.INSUFFICIENT_FUNDS,
    CreateTransferResult.PENDING_TRANSFER_EXPIRED: ErrorCode.INTENT_EXPIRED,
}


class LedgerRefusedError(RuntimeError):
    """The ledger refused what the services should never have asked: a bug, not a user error."""


def require_ok(outcomes: Sequence[TransferOutcome]) -> None:
    """Raise for the first failed transfer (the caller's transaction then rolls back)."""
    for outcome in outcomes:
        if outcome.ok or outcome.result is CreateTransferResult.LINKED_EVENT_FAILED:
            continue
        code = _AS_ERROR.get(outcome.result)
        if code is not None:
            raise EnvoiError(code)
        raise LedgerRefusedError(f"{outcome.id}: {outcome.result.value}")
    if any(not o.ok for o in outcomes):
        raise LedgerRefusedError("a linked chain failed without a cause")


def resolve_pending(
    holds: Sequence[Transfer], *, post: bool, linked: bool = True
) -> list[Transfer]:
    """Post or void holds: all of them or none (a linked chain), or each on its own."""
    flag = TransferFlags.POST_PENDING_TRANSFER if post else TransferFlags.VOID_PENDING_TRANSFER
    suffix = "post" if post else "void"
    transfers = []
    for i, hold in enumerate(holds):
        last = i == len(holds) - 1
        transfers.append(
            Transfer(
                id=f"{hold.id}:{suffix}",
                debit_account_id=hold.debit_account_id,
                credit_account_id=hold.credit_account_id,
                amount=hold.amount,
                currency=hold.currency,
                code=hold.code,
                flags=flag | (TransferFlags.LINKED if linked and not last else TransferFlags.NONE),
                pending_id=hold.id,
                reference=hold.reference,
            )
        )
    return transfers
