"""Card money going back: refunds to the card, disputes, and what a member then owes.

The ledger rules (DESIGN §3), applied to a top-up that is reversed:
- A refund gives back at most what the member still holds: the wallet is held first
  (a pending debit), the processor is asked, then the hold is posted or voided.
- A dispute freezes the disputed amount as a pending debit of the wallet; lost, it is
  posted; won, it is voided.
- What the wallet no longer holds (a dispute, or a refund made at the processor) is
  never a negative wallet: the shortfall is a debit of the member's receivable account,
  recovered from the next money the member receives by card, and payouts wait for it.

Every movement here runs under the member's lock (``uow.members.lock``), the same one
payments take, so a payment and a dispute never both spend the same euros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import CardDispute, CardRefund, Topup, dispute_key
from envoi.ledger.model import Account, AccountBalance, Transfer, TransferFlags
from envoi.money import Money
from envoi.services.context import Context
from envoi.services.ledger_ops import require_ok, resolve_pending
from envoi.services.secrets import new_id
from envoi.services.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund: CardRefund
    not_refunded: Money  # asked for but no longer held by the member: stays, with the error


def _receivable(uow: UnitOfWork, member_id: str) -> AccountBalance:
    """The member's receivable account; all zeros when it was never needed (not created)."""
    try:
        return uow.ledger.balance(accounts.receivable(member_id))
    except KeyError:
        return AccountBalance(accounts.receivable(member_id), "", 0, 0, 0, 0)


def owed(uow: UnitOfWork, member_id: str) -> int:
    """Minor units the member owes envoi (open disputes' shortfalls included)."""
    balance = _receivable(uow, member_id)
    return balance.debits_posted + balance.debits_pending - balance.credits_posted


def recover_owed(uow: UnitOfWork, member_id: str, currency: str, *, reference: str) -> int:
    """Pay what the member owes (posted shortfalls only) from the wallet, as far as it
    goes; returns the minor units recovered. The caller holds the member's lock."""
    receivable = _receivable(uow, member_id)
    due = receivable.debits_posted - receivable.credits_posted
    available = uow.ledger.balance(accounts.wallet(member_id)).available
    pay = min(due, available)
    if pay <= 0:
        return 0
    require_ok(
        uow.ledger.create_transfers(
            [
                Transfer(
                    id=f"{reference}:recover",
                    debit_account_id=accounts.wallet(member_id),
                    credit_account_id=accounts.receivable(member_id),
                    amount=pay,
                    currency=currency,
                    code="recovery",
                    reference=reference,
                )
            ]
        )
    )
    return pay


def _ensure_receivable(uow: UnitOfWork, member_id: str, currency: str) -> None:
    # No balance flag: its debit balance is the debt (the wallet itself never goes below 0).
    uow.ledger.create_accounts([Account(accounts.receivable(member_id), currency, "receivable")])


def _leg(transfer_id: str, debit: str, amount: int, topup: Topup, pending: bool) -> Transfer:
    """One leg of card money going back: a dispute's hold (pending), or a refund (posted)."""
    currency = topup.amount.currency
    return Transfer(
        id=transfer_id,
        debit_account_id=debit,
        credit_account_id=accounts.card_clearing(currency),
        amount=amount,
        currency=currency,
        code="card_dispute" if pending else "card_refund",
        flags=TransferFlags.PENDING if pending else TransferFlags.NONE,
        reference=topup.id,
    )


class Reversals:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- refunds asked by an operator --------------------------------------------------

    def refund(self, topup_id: str, amount_minor: int | None = None) -> RefundOutcome:
        """Refund (part of) a succeeded top-up to its card: at most what is left of the card
        payment, and at most what the member still holds; the rest is reported, not taken."""
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            topup = uow.topups.get(topup_id)
            if topup is None:
                raise EnvoiError(ErrorCode.TOPUP_NOT_FOUND)
            if topup.status != "succeeded" or not topup.processor_ref:
                raise EnvoiError(ErrorCode.TOPUP_NOT_REFUNDABLE)
            if topup.processor != self.ctx.card_processor().name:
                raise EnvoiError(ErrorCode.TOPUP_NOT_REFUNDABLE, processor=topup.processor)
            uow.members.lock(topup.member_id)
            currency = topup.amount.currency
            refundable = self._refundable(uow, topup)
            requested = refundable if amount_minor is None else amount_minor
            if requested <= 0 or requested > refundable:
                raise EnvoiError(
                    ErrorCode.REFUND_EXCEEDS_PAYMENT,
                    refundable_minor=max(refundable, 0),
                    currency=currency,
                )
            available = uow.ledger.balance(accounts.wallet(topup.member_id)).available
            amount = min(requested, available)
            if amount <= 0:
                raise EnvoiError(
                    ErrorCode.REFUND_EXCEEDS_BALANCE,
                    available_minor=max(available, 0),
                    rest_minor=requested,
                    currency=currency,
                )
            refund = CardRefund(
                id=new_id("rfd"),
                topup_id=topup.id,
                member_id=topup.member_id,
                amount=Money(amount, currency),
                origin="operator",
                status="pending",
                processor_refund_ref=None,
                created_at=now,
            )
            uow.card.add_refund(refund)
            # Held before the processor is asked: the member cannot spend it meanwhile.
            require_ok(
                uow.ledger.create_transfers(
                    [
                        Transfer(
                            id=refund.hold_id,
                            debit_account_id=accounts.wallet(topup.member_id),
                            credit_account_id=accounts.card_clearing(currency),
                            amount=amount,
                            currency=currency,
                            code="card_refund",
                            flags=TransferFlags.PENDING,
                            reference=topup.id,
                        )
                    ]
                )
            )
            uow.commit()
        try:
            result = self.ctx.card_processor().refund(refund.id, topup.processor_ref, refund.amount)
        except EnvoiError:
            self._finish(refund, "failed", None)
            raise
        # A network error leaves the refund pending and held: asking again with the same
        # id is safe (the processor's idempotency key), never a second refund.
        status = "failed" if result.status == "failed" else "succeeded"
        refund = self._finish(refund, status, result.refund_ref)
        if status == "failed":
            raise EnvoiError(ErrorCode.REFUND_REFUSED, reason="failed")
        log.info("card_refund", topup_id=topup.id, refund_id=refund.id, amount=amount)
        return RefundOutcome(refund, Money(requested - amount, currency))

    def _refundable(self, uow: UnitOfWork, topup: Topup) -> int:
        disputed = sum(d.amount.minor for d in uow.card.disputes_of(topup.id) if d.status != "won")
        return topup.amount.minor - uow.card.refunded_total(topup.id) - disputed

    def _finish(self, refund: CardRefund, status: str, ref: str | None) -> CardRefund:
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            if uow.card.finish_refund(refund.id, status=status, processor_refund_ref=ref, now=now):
                hold = Transfer(
                    id=refund.hold_id,
                    debit_account_id=accounts.wallet(refund.member_id),
                    credit_account_id=accounts.card_clearing(refund.amount.currency),
                    amount=refund.amount.minor,
                    currency=refund.amount.currency,
                    code="card_refund",
                    reference=refund.topup_id,
                )
                require_ok(
                    uow.ledger.create_transfers(resolve_pending([hold], post=status == "succeeded"))
                )
                if status == "succeeded":
                    self._notify(uow, refund.member_id, "card_refunded", refund.amount, now)
            done = uow.card.refund(refund.id)
            uow.commit()
        assert done is not None
        return done

    # --- what the processor tells us ---------------------------------------------------

    def processor_refunded(self, uow: UnitOfWork, topup: Topup, total_refunded: Money) -> None:
        """The processor says this much of the card payment is refunded in all: whatever
        envoi did not ask for itself (a refund from the processor's dashboard) leaves the
        wallet now, the part it no longer holds onto the receivable account."""
        uow.members.lock(topup.member_id)
        extra = total_refunded.minor - uow.card.refunded_total(topup.id)
        if extra <= 0:
            return  # ours, or already counted
        now = self.ctx.clock.now()
        refund = CardRefund(
            id=new_id("rfd"),
            topup_id=topup.id,
            member_id=topup.member_id,
            amount=Money(extra, topup.amount.currency),
            origin="processor",
            status="succeeded",
            processor_refund_ref=None,
            created_at=now,
        )
        uow.card.add_refund(refund)
        self._take_back(uow, topup, refund.id, extra, pending=False)
        self._notify(uow, topup.member_id, "card_refunded", refund.amount, now)

    def dispute_opened(
        self, uow: UnitOfWork, topup: Topup, dispute_ref: str, amount: Money
    ) -> CardDispute:
        existing = uow.card.dispute(dispute_ref)
        if existing is not None:
            return existing
        uow.members.lock(topup.member_id)
        key = dispute_key(dispute_ref)
        frozen, shortfall = self._take_back(uow, topup, key, amount.minor, pending=True)
        currency = topup.amount.currency
        dispute = CardDispute(
            dispute_ref=dispute_ref,
            topup_id=topup.id,
            member_id=topup.member_id,
            amount=Money(amount.minor, currency),
            frozen=Money(frozen, currency),
            shortfall=Money(shortfall, currency),
            status="open",
        )
        now = self.ctx.clock.now()
        uow.card.add_dispute(dispute, now)
        self._notify(uow, topup.member_id, "card_dispute_opened", dispute.amount, now)
        log.info("card_dispute_opened", dispute=dispute_ref, frozen=frozen, shortfall=shortfall)
        return dispute

    def dispute_closed(
        self, uow: UnitOfWork, topup: Topup, dispute_ref: str, amount: Money, status: str
    ) -> None:
        # A close that overtook its open (webhooks come in any order) opens it first.
        dispute = self.dispute_opened(uow, topup, dispute_ref, amount)
        lost = status == "lost"  # "won", "warning_closed": the money stays with the member
        now = self.ctx.clock.now()
        if not uow.card.close_dispute(dispute_ref, "lost" if lost else "won", now):
            return  # closed already
        holds = []
        if dispute.frozen.minor:
            wallet = accounts.wallet(topup.member_id)
            holds.append(_leg(dispute.freeze_id, wallet, dispute.frozen.minor, topup, True))
        if dispute.shortfall.minor:
            owing = accounts.receivable(topup.member_id)
            holds.append(_leg(dispute.shortfall_id, owing, dispute.shortfall.minor, topup, True))
        require_ok(uow.ledger.create_transfers(resolve_pending(holds, post=lost)))
        code = "card_dispute_lost" if lost else "card_dispute_won"
        self._notify(uow, topup.member_id, code, dispute.amount, now)

    # --- what a member owes --------------------------------------------------------------

    def owed(self, member_id: str) -> Money:
        with self.ctx.uow() as uow:
            return Money(max(owed(uow, member_id), 0), self.ctx.settings.currency)

    def require_nothing_owed(self, member_id: str) -> None:
        """Payouts call this first: a member who owes envoi after a dispute is paid out
        nothing until it is settled."""
        due = self.owed(member_id)
        if due.minor > 0:
            raise EnvoiError(
                ErrorCode.RECEIVABLE_OUTSTANDING, owed_minor=due.minor, currency=due.currency
            )

    def recover(self, member_id: str) -> Money:
        """Settle what is owed from the wallet, as far as it goes (an operator's command;
        a top-up does it by itself)."""
        with self.ctx.uow() as uow:
            uow.members.lock(member_id)
            paid = recover_owed(uow, member_id, self.ctx.settings.currency, reference=new_id("rcv"))
            uow.commit()
        return Money(paid, self.ctx.settings.currency)

    # --- ledger legs -----------------------------------------------------------------------

    def _take_back(
        self, uow: UnitOfWork, topup: Topup, ref: str, amount: int, *, pending: bool
    ) -> tuple[int, int]:
        """Card money going back to the processor: from the wallet as far as it holds it,
        the rest from the member's receivable account. Returns (from wallet, shortfall)."""
        currency = topup.amount.currency
        available = uow.ledger.balance(accounts.wallet(topup.member_id)).available
        from_wallet = max(0, min(amount, available))
        shortfall = amount - from_wallet
        legs = []
        if from_wallet:
            legs.append(
                _leg(f"{ref}:wallet", accounts.wallet(topup.member_id), from_wallet, topup, pending)
            )
        if shortfall:
            _ensure_receivable(uow, topup.member_id, currency)
            legs.append(
                _leg(f"{ref}:owed", accounts.receivable(topup.member_id), shortfall, topup, pending)
            )
        require_ok(uow.ledger.create_transfers(legs))
        return from_wallet, shortfall

    @staticmethod
    def _notify(uow: UnitOfWork, member_id: str, code: str, amount: Money, now: datetime) -> None:
        uow.notices.notify(
            member_id,
            code,
            {"amount_minor": amount.minor, "currency": amount.currency},
            intent_id=None,
            now=now,
        )
