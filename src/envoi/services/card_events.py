"""Events from the card processor (its webhooks), each applied once.

The event id is stored in the same transaction as what the event changes, so a
redelivered event (processors retry until they get a 2xx) changes nothing the second
time, and a crash half-way leaves it to be applied again in full. A payment event is
not trusted for the payment's state: the payment is read back from the processor
(events come in any order), then credited through ``Funding.charge_updated`` — the same
compare-and-set the cardholder's return from 3-D Secure goes through.
"""

from __future__ import annotations

import structlog

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import Topup
from envoi.services.context import Context
from envoi.services.funding import Funding
from envoi.services.ports import ProcessorEvent
from envoi.services.reversals import Reversals
from envoi.services.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


class CardEvents:
    def __init__(self, ctx: Context, funding: Funding, reversals: Reversals) -> None:
        self.ctx = ctx
        self.funding = funding
        self.reversals = reversals

    def handle(self, event: ProcessorEvent) -> str:
        """Apply one verified event; returns what became of it ("applied", "duplicate",
        "ignored", "unknown_payment")."""
        if event.kind == "ignored" or not event.event_id:
            return "ignored"
        if event.kind == "payment_updated":
            return self._payment_updated(event)
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            topup = self._topup(uow, event)
            if topup is None:
                log.warning("card_event_unknown_payment", event_id=event.event_id)
                return "unknown_payment"
            # Lock order (unit_of_work.py): the member (level 2) before any write.
            uow.members.lock(topup.member_id)
            if not uow.card.add_event_once(event.processor, event.event_id, event.kind, now):
                return "duplicate"
            assert event.amount is not None
            if event.kind == "refunded":
                self.reversals.processor_refunded(uow, topup, event.amount)
            elif event.kind == "refund_failed":
                assert event.refund_ref is not None
                self.reversals.refund_failed(
                    uow, topup, event.refund_ref, event.refund_id, event.amount
                )
            elif event.kind == "dispute_opened":
                assert event.dispute_ref
                self.reversals.dispute_opened(uow, topup, event.dispute_ref, event.amount)
            else:
                assert event.dispute_ref
                self.reversals.dispute_closed(
                    uow, topup, event.dispute_ref, event.amount, event.dispute_status or ""
                )
            uow.commit()
        log.info("card_event", event_id=event.event_id, kind=event.kind)
        return "applied"

    def _payment_updated(self, event: ProcessorEvent) -> str:
        with self.ctx.uow() as uow:
            if self._topup(uow, event) is None:
                return "unknown_payment"  # not ours (another integration on the account)
            seen = uow.card.seen(event.processor, event.event_id)
        if seen:
            return "duplicate"
        # Applied first, recorded after: charge_updated is idempotent by itself (a
        # compare-and-set on the top-up), so a failure in between (the processor not
        # answering the read-back) leaves the event to the processor's next delivery.
        try:
            self.funding.charge_updated(event.payment_ref)
        except EnvoiError as exc:
            if exc.code is not ErrorCode.TOPUP_NOT_FOUND:
                raise
            return "unknown_payment"
        with self.ctx.uow() as uow:
            uow.card.add_event_once(
                event.processor, event.event_id, event.kind, self.ctx.clock.now()
            )
            uow.commit()
        return "applied"

    @staticmethod
    def _topup(uow: UnitOfWork, event: ProcessorEvent) -> Topup | None:
        topup = uow.topups.by_ref(event.payment_ref) if event.payment_ref else None
        if topup is None and event.request_id:
            topup = uow.topups.get(event.request_id)
        if topup is not None and topup.processor != event.processor:
            return None
        return topup
