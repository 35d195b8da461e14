"""Card money going back: refunds to the card, disputes, and what a member then owes.

The ledger rules (DESIGN §3), applied to a top-up that is reversed:
- A refund gives back at most what the member still holds: the wallet is held first
  (a pending debit), the processor is asked, then the hold is posted or voided. When the
  processor does not answer, the refund stays pending and held; ``resume`` (a worker job,
  and ``envoi psp refund --resume``) later asks the processor whether it made it, and
  posts or voids the hold accordingly.
- A refund that fails at the processor after it was made (the card closed) puts the
  money back in the wallet, and what the member owes is paid from it first.
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
from datetime import datetime, timedelta

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
        except EnvoiError as exc:
            if exc.code is ErrorCode.REFUND_PENDING:
                # No answer: made or not, nobody knows yet. The refund stays pending and
                # held until ``resume`` asks the processor (never a second refund).
                log.warning("card_refund_unanswered", topup_id=topup.id, refund_id=refund.id)
                raise
            self._finish(refund, "failed", None)
            raise
        status = "failed" if result.status == "failed" else "succeeded"
        refund = self._finish(refund, status, result.refund_ref)
        if status == "failed":
            raise EnvoiError(ErrorCode.REFUND_REFUSED, reason="failed")
        log.info("card_refund", topup_id=topup.id, refund_id=refund.id, amount=amount)
        return RefundOutcome(refund, Money(requested - amount, currency))

    def _refundable(self, uow: UnitOfWork, topup: Topup) -> int:
        disputed = sum(d.amount.minor for d in uow.card.disputes_of(topup.id) if d.status != "won")
        return topup.amount.minor - uow.card.refunded_total(topup.id) - disputed

    def resume(self, *, older_than_s: int = 300, limit: int = 50) -> list[CardRefund]:
        """Finish refunds left pending (the processor did not answer, or envoi stopped
        while asking): the processor says whether it made each one; made, the hold is
        posted; never made (or failed), it is voided. Only refunds older than
        ``older_than_s``: a younger one's request may still be under way (the ``stripe``
        library's timeout and retries last about four minutes). Returns those finished."""
        processor = self.ctx.processor
        if processor is None:
            return []
        before = self.ctx.clock.now() - timedelta(seconds=older_than_s)
        with self.ctx.uow() as uow:
            stale = [
                (refund, uow.topups.get(refund.topup_id))
                for refund in uow.card.pending_refunds(before, limit)
            ]
        finished = []
        for refund, topup in stale:
            if topup is None or topup.processor != processor.name or not topup.processor_ref:
                continue
            try:
                found = processor.find_refund(refund.id, topup.processor_ref)
            except EnvoiError as exc:
                if exc.code is not ErrorCode.REFUND_PENDING:
                    raise
                continue  # still no answer: next time
            # Made and on its way ("pending" there) counts as made, as when answered at once.
            status = "failed" if found is None or found.status == "failed" else "succeeded"
            done = self._finish(refund, status, found.refund_ref if found else None)
            if done.status != "pending":
                log.info("card_refund_resumed", refund_id=refund.id, status=done.status)
                finished.append(done)
        return finished

    def _finish(self, refund: CardRefund, status: str, ref: str | None) -> CardRefund:
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            self._settle(uow, refund, status, ref, now)
            done = uow.card.refund(refund.id)
            uow.commit()
        assert done is not None
        return done

    def _settle(
        self, uow: UnitOfWork, refund: CardRefund, status: str, ref: str | None, now: datetime
    ) -> bool:
        """A pending refund's answer: its hold posted (made) or voided (not made). False
        when it was no longer pending (answered already)."""
        if not uow.card.finish_refund(refund.id, status=status, processor_refund_ref=ref, now=now):
            return False
        hold = Transfer(
            id=refund.hold_id,
            debit_account_id=accounts.wallet(refund.member_id),
            credit_account_id=accounts.card_clearing(refund.amount.currency),
            amount=refund.amount.minor,
            currency=refund.amount.currency,
            code="card_refund",
            reference=refund.topup_id,
        )
        require_ok(uow.ledger.create_transfers(resolve_pending([hold], post=status == "succeeded")))
        if status == "succeeded":
            self._notify(uow, refund.member_id, "card_refunded", refund.amount, now)
        return True

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

    def refund_failed(
        self,
        uow: UnitOfWork,
        topup: Topup,
        refund_ref: str,
        refund_id: str | None,
        amount: Money,
    ) -> bool:
        """The processor says a refund of this top-up failed after it was made (the money
        is back in the merchant's balance): the member gets it back. Ours still pending:
        its hold is voided. Made (ours, or one from the processor's dashboard learnt from
        its ``charge.refunded``): the amount goes back to the wallet, and what the member
        owes is paid from it first. False when there is nothing (more) to put back."""
        uow.members.lock(topup.member_id)
        refund = uow.card.refund(refund_id) if refund_id else None
        if refund is None and refund_ref:
            refund = uow.card.refund_by_ref(refund_ref)
        if refund is None:
            # From the dashboard: its charge.refunded told the amount, not the refund.
            refund = uow.card.unnamed_processor_refund(topup.id, amount.minor)
        if refund is None or refund.topup_id != topup.id:
            log.warning("card_refund_failed_unknown", topup_id=topup.id, refund_ref=refund_ref)
            return False
        now = self.ctx.clock.now()
        if refund.status == "pending":
            return self._settle(uow, refund, "failed", refund_ref or None, now)
        if not uow.card.reverse_refund(refund.id, refund_ref or None, now):
            return False  # failed already
        currency = refund.amount.currency
        require_ok(
            uow.ledger.create_transfers(
                [
                    Transfer(
                        id=f"{refund.id}:back",
                        debit_account_id=accounts.card_clearing(currency),
                        credit_account_id=accounts.wallet(topup.member_id),
                        amount=refund.amount.minor,
                        currency=currency,
                        code="card_refund_failed",
                        reference=topup.id,
                    )
                ]
            )
        )
        recover_owed(uow, topup.member_id, currency, reference=refund.id)
        self._notify(uow, topup.member_id, "card_refund_failed", refund.amount, now)
        log.info("card_refund_failed", refund_id=refund.id, amount=refund.amount.minor)
        return True

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
