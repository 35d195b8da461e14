"""Card top-ups: charge through the processor, then credit the wallet from card clearing.

The top-up row is written before the card is charged (so a crash in between is
visible and retried with the same request id, which the processor treats as the
same charge), and credited at most once: a compare-and-set on its status plus a
ledger transfer whose id is the top-up's.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import structlog

from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import Topup
from envoi.ledger.model import Transfer
from envoi.money import Money
from envoi.services.context import Context
from envoi.services.ledger_ops import require_ok
from envoi.services.ports import CardDetails, CardToken, ChargeResult, InPageAuthentication
from envoi.services.reversals import recover_owed
from envoi.services.secrets import new_id
from envoi.services.unit_of_work import UnitOfWork, retry_conflicts

log = structlog.get_logger(__name__)

MIN_TOPUP_MINOR = 100
MAX_TOPUP_MINOR = 2_000_00


class Funding:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def top_up(
        self,
        member_id: str,
        amount_minor: int,
        card: CardDetails | CardToken,
        *,
        request_key: str | None,
    ) -> Topup:
        if not MIN_TOPUP_MINOR <= amount_minor <= MAX_TOPUP_MINOR:
            raise EnvoiError(
                ErrorCode.AMOUNT_OUT_OF_RANGE,
                min_minor=MIN_TOPUP_MINOR,
                max_minor=MAX_TOPUP_MINOR,
                currency=self.ctx.settings.currency,
            )
        processor = self.ctx.card_processor()
        amount = Money(amount_minor, self.ctx.settings.currency)
        # Stored hashed: whatever key a client picks fits, and is scoped to its member.
        key = hashlib.sha256(f"{member_id}:{request_key or new_id('req')}".encode()).hexdigest()
        number = card.number if isinstance(card, CardDetails) else ""
        digits = "".join(c for c in number if c.isdigit())
        now = self.ctx.clock.now()
        pending = Topup(
            id=new_id("top"),
            member_id=member_id,
            amount=amount,
            status="requires_action",  # overwritten below; "pending" in the table
            processor=processor.name,
            processor_ref="",
            last4=digits[-4:],
            decline_code=None,
            action_url=None,
            created_at=now,
        )
        with self.ctx.uow() as uow:
            # The member row serialises one member's top-ups while the caps are checked;
            # a retry of a key already used is not a new top-up and is not capped.
            uow.members.lock(member_id)
            if uow.topups.by_key(key) is None:
                self._check_caps(uow, member_id, amount_minor)
            # Insert first: of two requests with one key, exactly one row wins, and the
            # other charges under that row's id (the processor answers it the same).
            if not uow.topups.add_pending(pending, key):
                existing = uow.topups.by_key(key)
                assert existing is not None
                if existing.amount != amount or existing.member_id != member_id:
                    raise EnvoiError(ErrorCode.IDEMPOTENCY_CONFLICT)
                if existing.processor_ref:
                    return existing
                pending = existing
            uow.commit()
        # The processor is idempotent by our top-up id: a retry never charges twice.
        charge = processor.charge(pending.id, amount, card)
        # The person reads a decline in this very answer: no notification for it too.
        topup = self._record(pending.id, "pending", charge, tell_decline=False)
        log.info("topup", topup_id=topup.id, status=topup.status)
        return topup

    def _check_caps(self, uow: UnitOfWork, member_id: str, amount_minor: int) -> None:
        settings, now = self.ctx.settings, self.ctx.clock.now()
        for since, cap, code in (
            (now - timedelta(days=1), settings.topup_daily_minor, ErrorCode.TOPUP_LIMIT_DAILY),
            (now - timedelta(days=30), settings.topup_monthly_minor, ErrorCode.TOPUP_LIMIT_MONTHLY),
        ):
            if uow.topups.charged_since(member_id, since) + amount_minor > cap:
                raise EnvoiError(code, limit_minor=cap, currency=settings.currency)

    @retry_conflicts
    def charge_updated(self, processor_ref: str, *, member_id: str | None = None) -> Topup:
        """The processor says a charge moved (3-D Secure done, a webhook, the cardholder
        back in the wallet): credit once, whichever of these comes first. ``member_id``:
        only that member's top-up (the wallet's return page)."""
        charge = self.ctx.card_processor().retrieve(processor_ref)
        with self.ctx.uow() as uow:
            topup = uow.topups.by_ref(processor_ref)
            if topup is None and charge.request_id:
                # The webhook may overtake the charge call's own answer: found by our id.
                topup = uow.topups.get(charge.request_id)
            if topup is None or (member_id is not None and topup.member_id != member_id):
                raise EnvoiError(ErrorCode.TOPUP_NOT_FOUND)
            if topup.status == "requires_action" and charge.status != "requires_action":
                # Compare-and-set from either unfinished status: of two callers, one moves it.
                topup = self._apply(uow, topup.id, "requires_action", charge)
                if topup.status == "requires_action":
                    topup = self._apply(uow, topup.id, "pending", charge)
            uow.commit()
        return topup

    def in_page_authentication(self, member_id: str, processor_ref: str) -> tuple[str, str]:
        """(publishable key, client secret) for the member's browser to run 3-D Secure in
        the page (Stripe.js); only for the member's own top-up awaiting it."""
        processor = self.ctx.card_processor()
        with self.ctx.uow() as uow:
            topup = uow.topups.by_ref(processor_ref)
        if (
            topup is None
            or topup.member_id != member_id
            or topup.status != "requires_action"
            or not isinstance(processor, InPageAuthentication)
        ):
            raise EnvoiError(ErrorCode.TOPUP_NOT_FOUND)
        return processor.publishable_key, processor.client_secret(processor_ref)

    def reconcile(self, *, older_than_s: int = 120, limit: int = 50) -> int:
        """Finish top-ups whose processor answer was lost (crash after the charge): ask the
        processor what became of each; one never charged is declined after an hour."""
        processor = self.ctx.processor
        if processor is None:
            return 0
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            stale = uow.topups.pending_before(now - timedelta(seconds=older_than_s), limit)
        done = 0
        for topup in stale:
            charge = processor.find(topup.id)
            if charge is None and now - topup.created_at < timedelta(hours=1):
                continue  # the client may still retry with its key
            charge = charge or ChargeResult("", "declined", decline_code="abandoned")
            self._record(topup.id, "pending", charge)
            done += 1
        return done

    def get(self, member_id: str, topup_id: str) -> Topup:
        with self.ctx.uow() as uow:
            topup = uow.topups.get(topup_id)
        if topup is None or topup.member_id != member_id:
            raise EnvoiError(ErrorCode.TOPUP_NOT_FOUND)
        return topup

    @retry_conflicts
    def _record(
        self, topup_id: str, from_status: str, charge: ChargeResult, *, tell_decline: bool = True
    ) -> Topup:
        """The processor's answer, in its own transaction (retried: the answer is known)."""
        with self.ctx.uow() as uow:
            topup = self._apply(uow, topup_id, from_status, charge, tell_decline=tell_decline)
            uow.commit()
        return topup

    def _apply(
        self,
        uow: UnitOfWork,
        topup_id: str,
        from_status: str,
        charge: ChargeResult,
        *,
        tell_decline: bool = True,
    ) -> Topup:
        now = self.ctx.clock.now()
        if charge.status == "succeeded":
            before = uow.topups.get(topup_id)
            assert before is not None
            # Before any write: the order payments lock in (member, then ledger rows).
            uow.members.lock(before.member_id)
        moved = uow.topups.settle(
            topup_id,
            from_status=from_status,
            status=charge.status,
            processor_ref=charge.processor_ref,
            last4=charge.last4,
            decline_code=charge.decline_code,
            action_url=charge.action_url,
            now=now,
        )
        topup = uow.topups.get(topup_id)
        assert topup is not None
        if moved and charge.status == "succeeded":
            currency = topup.amount.currency
            require_ok(
                uow.ledger.create_transfers(
                    [
                        Transfer(
                            id=f"{topup.id}:credit",
                            debit_account_id=accounts.card_clearing(currency),
                            credit_account_id=accounts.wallet(topup.member_id),
                            amount=topup.amount.minor,
                            currency=currency,
                            code="topup",
                            reference=topup.id,
                        )
                    ]
                )
            )
            # Money a member owes after a dispute comes back from the next top-up.
            recover_owed(uow, topup.member_id, currency, reference=topup.id)
        if moved and (
            charge.status == "succeeded" or (charge.status == "declined" and tell_decline)
        ):
            uow.notices.notify(
                topup.member_id,
                "topup_succeeded" if charge.status == "succeeded" else "topup_declined",
                {
                    "amount_minor": topup.amount.minor,
                    "currency": topup.amount.currency,
                    "reason": charge.decline_code or "",
                },
                intent_id=None,
                now=now,
            )
        return topup
