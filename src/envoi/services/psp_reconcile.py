"""Reconciliation with the card processor: its payments and balance movements against
the top-ups, refunds and ledger transfers envoi recorded (``envoi psp reconcile``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from envoi.domain.model import Topup
from envoi.services.context import Context
from envoi.services.ports import BalanceEntry, ProcessorPayment
from envoi.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Difference:
    ref: str  # the processor's id, or ours when the processor has nothing
    code: str  # stable: "not_credited", "amount_mismatch", "unknown_refund"...
    detail: str


class Reconciliation:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def differences(self, since: datetime) -> list[Difference]:
        processor = self.ctx.card_processor()
        payments = processor.payments_since(since)
        entries = processor.balance_entries_since(since)
        found: list[Difference] = []
        with self.ctx.uow() as uow:
            topups = {t.id: t for t in uow.card.topups_since(since, processor.name)}
            ours = [p for p in payments if p.request_id]
            for payment in ours:
                assert payment.request_id is not None
                topup = topups.pop(payment.request_id, None) or uow.topups.get(payment.request_id)
                found += self._payment(uow, payment, topup)
            for payment in payments:
                if not payment.request_id and payment.status == "succeeded":
                    ref = payment.processor_ref
                    found.append(Difference(ref, "not_from_envoi", "no top-up id"))
            for topup in topups.values():  # ours, unknown at the processor
                if topup.status == "succeeded":
                    found.append(Difference(topup.id, "missing_at_processor", topup.processor_ref))
            found += self._entries(uow, since, ours, entries)
        return found

    @staticmethod
    def _entries(
        uow: UnitOfWork,
        since: datetime,
        ours: list[ProcessorPayment],
        entries: list[BalanceEntry],
    ) -> list[Difference]:
        """Each balance movement at the processor against what envoi recorded."""
        found = []
        charges = {p.charge_ref: p for p in ours if p.charge_ref}
        refunds = {
            r.processor_refund_ref: r
            for r in uow.card.refunds_since(since)
            if r.processor_refund_ref and r.status == "succeeded"
        }
        for entry in entries:
            expected: int | None = None
            if entry.kind == "charge":
                payment = charges.get(entry.source_ref)
                expected = payment.amount.minor if payment else None
            elif entry.kind == "refund":
                refund = refunds.pop(entry.source_ref, None)
                expected = -refund.amount.minor if refund else None
            elif entry.kind == "adjustment" and uow.card.dispute(entry.source_ref) is not None:
                continue  # a dispute envoi knows; its ledger side is the dispute's own
            else:
                expected = None
            if expected is None:
                found.append(Difference(entry.entry_id, f"unknown_{entry.kind}", entry.source_ref))
            elif entry.amount_minor != expected:
                found.append(
                    Difference(
                        entry.entry_id,
                        "amount_mismatch",
                        f"{entry.amount_minor} at the processor, {expected} in envoi",
                    )
                )
        for ref, refund in refunds.items():  # refunds envoi made that moved nothing there
            if refund.origin == "operator":
                found.append(Difference(ref, "refund_missing_at_processor", refund.id))
        return found

    @staticmethod
    def _payment(
        uow: UnitOfWork, payment: ProcessorPayment, topup: Topup | None
    ) -> list[Difference]:
        ref = payment.processor_ref
        if topup is None:
            return [Difference(ref, "unknown_topup", str(payment.request_id))]
        out = []
        if payment.amount != topup.amount:
            out.append(
                Difference(
                    ref,
                    "amount_mismatch",
                    f"{payment.amount.minor} at the processor, {topup.amount.minor} in envoi",
                )
            )
        paid = payment.status == "succeeded"
        if paid and topup.status != "succeeded":
            out.append(Difference(ref, "not_credited", f"top-up {topup.id} is {topup.status}"))
        if not paid and topup.status == "succeeded":
            out.append(Difference(ref, "credited_not_paid", f"processor says {payment.status}"))
        if topup.status == "succeeded":
            credited = uow.card.transfer_amount(f"{topup.id}:credit")
            if credited != topup.amount.minor:
                out.append(Difference(ref, "ledger_missing", f"credit of top-up {topup.id}"))
        refunded = sum(
            r.amount.minor for r in uow.card.refunds_of(topup.id) if r.status == "succeeded"
        )
        if paid and refunded != payment.amount_refunded:
            out.append(
                Difference(
                    ref,
                    "refund_mismatch",
                    f"{payment.amount_refunded} refunded at the processor, {refunded} in envoi",
                )
            )
        return out
