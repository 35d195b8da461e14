"""Processor events, card refunds and disputes (``uow.card``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update

from envoi.adapters.db.ledger_tables import ledger_transfers
from envoi.adapters.db.psp_tables import card_disputes, card_refunds, psp_events
from envoi.adapters.db.repo_payments import _topup
from envoi.adapters.db.rows import aware, insert_once, utc
from envoi.adapters.db.tables import topups
from envoi.domain.model import CardDispute, CardRefund, Topup
from envoi.money import Money


def _refund(row: RowMapping) -> CardRefund:
    created = aware(row["created_at"])
    assert created is not None
    return CardRefund(
        id=row["id"],
        topup_id=row["topup_id"],
        member_id=row["member_id"],
        amount=Money(row["amount_minor"], row["currency"]),
        origin=row["origin"],
        status=row["status"],
        processor_refund_ref=row["processor_refund_ref"],
        created_at=created,
    )


def _dispute(row: RowMapping) -> CardDispute:
    currency = row["currency"]
    return CardDispute(
        dispute_ref=row["dispute_ref"],
        topup_id=row["topup_id"],
        member_id=row["member_id"],
        amount=Money(row["amount_minor"], currency),
        frozen=Money(row["frozen_minor"], currency),
        shortfall=Money(row["shortfall_minor"], currency),
        status=row["status"],
    )


class SqlCard:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_event_once(self, processor: str, event_id: str, kind: str, now: datetime) -> bool:
        return insert_once(
            self.conn,
            psp_events,
            {"processor": processor, "event_id": event_id, "kind": kind, "received_at": utc(now)},
        )

    def seen(self, processor: str, event_id: str) -> bool:
        row = self.conn.execute(
            select(psp_events.c.event_id).where(
                psp_events.c.processor == processor, psp_events.c.event_id == event_id
            )
        ).first()
        return row is not None

    def add_refund(self, refund: CardRefund) -> None:
        self.conn.execute(
            card_refunds.insert().values(
                id=refund.id,
                topup_id=refund.topup_id,
                member_id=refund.member_id,
                amount_minor=refund.amount.minor,
                currency=refund.amount.currency,
                origin=refund.origin,
                status=refund.status,
                processor_refund_ref=refund.processor_refund_ref,
                created_at=utc(refund.created_at),
                completed_at=utc(refund.created_at) if refund.status != "pending" else None,
            )
        )

    def finish_refund(
        self, refund_id: str, *, status: str, processor_refund_ref: str | None, now: datetime
    ) -> bool:
        """Compare-and-set from pending: False when another actor finished it first."""
        done = self.conn.execute(
            update(card_refunds)
            .where(card_refunds.c.id == refund_id, card_refunds.c.status == "pending")
            .values(status=status, processor_refund_ref=processor_refund_ref, completed_at=utc(now))
        )
        return bool(done.rowcount == 1)

    def reverse_refund(
        self, refund_id: str, processor_refund_ref: str | None, now: datetime
    ) -> bool:
        """A made refund that failed afterwards: compare-and-set from succeeded."""
        values: dict[str, Any] = {"status": "failed", "completed_at": utc(now)}
        if processor_refund_ref:
            values["processor_refund_ref"] = func.coalesce(
                card_refunds.c.processor_refund_ref, processor_refund_ref
            )
        done = self.conn.execute(
            update(card_refunds)
            .where(card_refunds.c.id == refund_id, card_refunds.c.status == "succeeded")
            .values(**values)
        )
        return bool(done.rowcount == 1)

    def pending_refunds(self, before: datetime, limit: int) -> list[CardRefund]:
        """Refunds envoi asked for that are still waiting for the processor's answer."""
        rows = self.conn.execute(
            select(card_refunds)
            .where(card_refunds.c.status == "pending", card_refunds.c.created_at <= utc(before))
            .order_by(card_refunds.c.created_at, card_refunds.c.id)
            .limit(limit)
        ).mappings()
        return [_refund(r) for r in rows]

    def refund_by_ref(self, processor_refund_ref: str) -> CardRefund | None:
        row = (
            self.conn.execute(
                select(card_refunds).where(
                    card_refunds.c.processor_refund_ref == processor_refund_ref
                )
            )
            .mappings()
            .first()
        )
        return _refund(row) if row else None

    def unnamed_processor_refund(self, topup_id: str, amount_minor: int) -> CardRefund | None:
        """A made refund of this amount learnt from the processor without its id (its
        dashboard's, told by ``charge.refunded``), oldest first."""
        row = (
            self.conn.execute(
                select(card_refunds)
                .where(
                    card_refunds.c.topup_id == topup_id,
                    card_refunds.c.origin == "processor",
                    card_refunds.c.status == "succeeded",
                    card_refunds.c.processor_refund_ref.is_(None),
                    card_refunds.c.amount_minor == amount_minor,
                )
                .order_by(card_refunds.c.created_at, card_refunds.c.id)
            )
            .mappings()
            .first()
        )
        return _refund(row) if row else None

    def refund(self, refund_id: str) -> CardRefund | None:
        row = (
            self.conn.execute(select(card_refunds).where(card_refunds.c.id == refund_id))
            .mappings()
            .first()
        )
        return _refund(row) if row else None

    def refunds_of(self, topup_id: str) -> list[CardRefund]:
        rows = self.conn.execute(
            select(card_refunds)
            .where(card_refunds.c.topup_id == topup_id)
            .order_by(card_refunds.c.created_at, card_refunds.c.id)
        ).mappings()
        return [_refund(r) for r in rows]

    def refunds_since(self, since: datetime) -> list[CardRefund]:
        rows = self.conn.execute(
            select(card_refunds).where(card_refunds.c.created_at >= utc(since))
        ).mappings()
        return [_refund(r) for r in rows]

    def refunded_total(self, topup_id: str) -> int:
        """Refunds asked or done (pending counts: the money is already on its way back)."""
        total: Any = self.conn.execute(
            select(func.coalesce(func.sum(card_refunds.c.amount_minor), 0)).where(
                card_refunds.c.topup_id == topup_id, card_refunds.c.status != "failed"
            )
        ).scalar_one()
        return int(total)

    def add_dispute(self, dispute: CardDispute, now: datetime) -> bool:
        return insert_once(
            self.conn,
            card_disputes,
            {
                "dispute_ref": dispute.dispute_ref,
                "topup_id": dispute.topup_id,
                "member_id": dispute.member_id,
                "amount_minor": dispute.amount.minor,
                "currency": dispute.amount.currency,
                "frozen_minor": dispute.frozen.minor,
                "shortfall_minor": dispute.shortfall.minor,
                "status": dispute.status,
                "created_at": utc(now),
            },
        )

    def dispute(self, dispute_ref: str) -> CardDispute | None:
        row = (
            self.conn.execute(
                select(card_disputes).where(card_disputes.c.dispute_ref == dispute_ref)
            )
            .mappings()
            .first()
        )
        return _dispute(row) if row else None

    def disputes_of(self, topup_id: str) -> list[CardDispute]:
        rows = self.conn.execute(
            select(card_disputes).where(card_disputes.c.topup_id == topup_id)
        ).mappings()
        return [_dispute(r) for r in rows]

    def topups_since(self, since: datetime, processor: str) -> list[Topup]:
        """This processor's top-ups created since ``since``, any status (reconciliation)."""
        rows = self.conn.execute(
            select(topups).where(topups.c.created_at >= utc(since), topups.c.processor == processor)
        ).mappings()
        return [_topup(r) for r in rows]

    def transfer_amount(self, transfer_id: str) -> int | None:
        """The amount of the ledger transfer with that id, or None if there is none."""
        amount = self.conn.execute(
            select(ledger_transfers.c.amount).where(ledger_transfers.c.id == transfer_id)
        ).scalar()
        return None if amount is None else int(amount)

    def close_dispute(self, dispute_ref: str, status: str, now: datetime) -> bool:
        done = self.conn.execute(
            update(card_disputes)
            .where(card_disputes.c.dispute_ref == dispute_ref, card_disputes.c.status == "open")
            .values(status=status, closed_at=utc(now))
        )
        return bool(done.rowcount == 1)
