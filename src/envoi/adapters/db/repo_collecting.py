"""Organisations' listing and verification, donations' choices, tax receipts and their
gapless counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update

from envoi.adapters.db.collecting_tables import (
    donations,
    donor_details,
    payout_batches,
    payouts,
    receipt_counters,
    tax_receipts,
)
from envoi.adapters.db.profile_tables import organisations
from envoi.adapters.db.repo_members import member_from, organisation_from, organisation_row
from envoi.adapters.db.rows import aware, insert_once, utc
from envoi.adapters.db.tables import members, payment_intents, pots
from envoi.domain.model import Member, Organisation, Payout, PayoutBatch, PayoutState
from envoi.domain.receipts import DonationSeen, FeeLine, TaxReceipt
from envoi.money import Money


class SqlOrganisations:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def set_verified(self, member_id: str, now: datetime) -> None:
        self.conn.execute(update(members).where(members.c.id == member_id).values(verified=True))
        self.conn.execute(
            update(organisations)
            .where(organisations.c.member_id == member_id, organisations.c.verified_at.is_(None))
            .values(verified_at=utc(now))
        )

    def update(self, org: Organisation) -> None:
        values = organisation_row(org)
        del values["member_id"]
        self.conn.execute(
            update(organisations).where(organisations.c.member_id == org.member_id).values(values)
        )

    def listing(self, *, verified: bool | None = None) -> list[tuple[Member, Organisation]]:
        query = (
            select(members, organisations)
            .join(organisations, organisations.c.member_id == members.c.id)
            .order_by(members.c.created_at)
        )
        if verified is not None:
            query = query.where(members.c.verified == verified)
        return [(member_from(r), organisation_from(r)) for r in self.conn.execute(query).mappings()]


class SqlReports:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fees(self, start: datetime, end: datetime, currency: str) -> list[FeeLine]:
        """Payments settled in [start, end) to organisations and pots, per payee and kind:
        how many, how much, and the fees taken (payer or payee side)."""
        i = payment_intents
        payee = func.coalesce(i.c.payee_member_id, pots.c.owner_member_id)
        rows = self.conn.execute(
            select(
                payee.label("payee_id"),
                members.c.display_name,
                i.c.kind,
                func.count().label("n"),
                func.sum(i.c.amount_minor).label("amount"),
                func.sum(i.c.fee_minor).label("fees"),
            )
            .select_from(i)
            .outerjoin(pots, pots.c.id == i.c.pot_id)
            .join(members, members.c.id == payee)
            .where(
                i.c.kind.in_(("donate", "pot")),
                i.c.state.in_(("settled",)),
                i.c.settled_at >= utc(start),
                i.c.settled_at < utc(end),
                i.c.currency == currency,
            )
            .group_by(payee, members.c.display_name, i.c.kind)
            .order_by(members.c.display_name, i.c.kind)
        ).mappings()
        return [
            FeeLine(
                payee_id=r["payee_id"],
                payee_name=r["display_name"],
                kind=r["kind"],
                count=int(r["n"]),
                amount=Money(int(r["amount"]), currency),
                fees=Money(int(r["fees"]), currency),
            )
            for r in rows
        ]


class SqlDonations:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- the donor's choices ---------------------------------------------------------

    def choose(
        self, intent_id: str, organisation_id: str, message: str | None, anonymous: bool
    ) -> None:
        row = {
            "intent_id": intent_id,
            "organisation_id": organisation_id,
            "message": message,
            "anonymous": anonymous,
        }
        if not insert_once(self.conn, donations, row):
            self.conn.execute(
                update(donations)
                .where(donations.c.intent_id == intent_id)
                .values(message=message, anonymous=anonymous)
            )

    def choice(self, intent_id: str) -> tuple[str | None, bool] | None:
        row = self.conn.execute(
            select(donations.c.message, donations.c.anonymous).where(
                donations.c.intent_id == intent_id
            )
        ).first()
        return (row[0], bool(row[1])) if row else None

    def recent_public(self, organisation_id: str, *, limit: int) -> list[DonationSeen]:
        """Settled donations, newest first; a donation made without a choice is anonymous."""
        i = payment_intents
        rows = self.conn.execute(
            select(
                members.c.display_name,
                i.c.amount_minor,
                i.c.currency,
                i.c.privacy,
                i.c.settled_at,
                donations.c.message,
                donations.c.anonymous,
            )
            .join(members, members.c.id == i.c.payer_member_id)
            .outerjoin(donations, donations.c.intent_id == i.c.id)
            .where(
                i.c.kind == "donate",
                i.c.state == "settled",
                i.c.payee_member_id == organisation_id,
            )
            .order_by(i.c.settled_at.desc(), i.c.id)
            .limit(limit)
        ).mappings()
        seen = []
        for r in rows:
            anonymous = r["anonymous"] is None or bool(r["anonymous"])
            at = aware(r["settled_at"])
            assert at is not None
            seen.append(
                DonationSeen(
                    donor=None if anonymous else r["display_name"],
                    amount=Money(r["amount_minor"], r["currency"])
                    if r["privacy"] == "public"
                    else None,
                    message=r["message"] if not anonymous or r["privacy"] == "public" else None,
                    at=at,
                )
            )
        return seen

    # --- donors' details -------------------------------------------------------------

    def set_donor_details(self, member_id: str, full_name: str, address: str) -> None:
        row = {"member_id": member_id, "full_name": full_name, "address": address}
        if not insert_once(self.conn, donor_details, row):
            self.conn.execute(
                update(donor_details)
                .where(donor_details.c.member_id == member_id)
                .values(full_name=full_name, address=address)
            )

    def donor_details(self, member_id: str) -> tuple[str, str] | None:
        row = self.conn.execute(
            select(donor_details.c.full_name, donor_details.c.address).where(
                donor_details.c.member_id == member_id
            )
        ).first()
        return (row[0], row[1]) if row else None

    # --- receipts --------------------------------------------------------------------

    def next_receipt_number(self, organisation_id: str, year: int) -> int:
        """The next number of this organisation's year, the counter row locked until the
        transaction ends (lock order level 5b): concurrent donations queue here, and a
        rolled-back one gives its number back, so numbers have no gaps."""
        insert_once(
            self.conn,
            receipt_counters,
            {"organisation_id": organisation_id, "year": year, "last_number": 0},
        )
        number = self.conn.execute(
            update(receipt_counters)
            .where(
                receipt_counters.c.organisation_id == organisation_id,
                receipt_counters.c.year == year,
            )
            .values(last_number=receipt_counters.c.last_number + 1)
            .returning(receipt_counters.c.last_number)
        ).scalar_one()
        return int(number)

    def add_receipt(self, receipt: TaxReceipt) -> None:
        self.conn.execute(tax_receipts.insert().values(_receipt_row(receipt)))

    def receipt(self, receipt_id: str) -> TaxReceipt | None:
        row = (
            self.conn.execute(select(tax_receipts).where(tax_receipts.c.id == receipt_id))
            .mappings()
            .first()
        )
        return _receipt(row) if row else None

    def receipts_of_donor(self, member_id: str, year: int | None = None) -> list[TaxReceipt]:
        query = select(tax_receipts).where(tax_receipts.c.donor_member_id == member_id)
        if year is not None:
            query = query.where(tax_receipts.c.year == year)
        query = query.order_by(tax_receipts.c.issued_at, tax_receipts.c.number)
        return [_receipt(r) for r in self.conn.execute(query).mappings()]

    def receipts_of_organisation(self, organisation_id: str, year: int) -> list[TaxReceipt]:
        query = (
            select(tax_receipts)
            .where(tax_receipts.c.organisation_id == organisation_id, tax_receipts.c.year == year)
            .order_by(tax_receipts.c.number)
        )
        return [_receipt(r) for r in self.conn.execute(query).mappings()]

    def cancel_receipt(self, receipt_id: str, now: datetime) -> bool:
        """Mark it cancelled (its correction is issued in the same transaction); False
        when it already was."""
        result = self.conn.execute(
            update(tax_receipts)
            .where(tax_receipts.c.id == receipt_id, tax_receipts.c.cancelled_at.is_(None))
            .values(cancelled_at=utc(now))
            .returning(tax_receipts.c.id)
        )
        return result.first() is not None


def _receipt_row(r: TaxReceipt) -> dict[str, Any]:
    return {
        "id": r.id,
        "organisation_id": r.organisation_id,
        "year": r.year,
        "number": r.number,
        "intent_id": r.intent_id,
        "donor_member_id": r.donor_member_id,
        "donor_name": r.donor_name,
        "donor_address": r.donor_address,
        "org_legal_name": r.org_legal_name,
        "org_address": r.org_address,
        "org_registry_id": r.org_registry_id,
        "org_purpose": r.org_purpose,
        "amount_minor": r.amount.minor,
        "currency": r.amount.currency,
        "donated_at": utc(r.donated_at),
        "issued_at": utc(r.issued_at),
        "form": r.form,
        "nature": r.nature,
        "payment_mode": r.payment_mode,
        "legal_article": r.legal_article,
        "cancels_id": r.cancels_id,
        "cancelled_at": utc(r.cancelled_at) if r.cancelled_at else None,
    }


def _receipt(row: RowMapping) -> TaxReceipt:
    donated, issued = aware(row["donated_at"]), aware(row["issued_at"])
    assert donated is not None
    assert issued is not None
    return TaxReceipt(
        id=row["id"],
        organisation_id=row["organisation_id"],
        year=row["year"],
        number=row["number"],
        intent_id=row["intent_id"],
        donor_member_id=row["donor_member_id"],
        donor_name=row["donor_name"],
        donor_address=row["donor_address"],
        org_legal_name=row["org_legal_name"],
        org_address=row["org_address"],
        org_registry_id=row["org_registry_id"],
        org_purpose=row["org_purpose"],
        amount=Money(row["amount_minor"], row["currency"]),
        donated_at=donated,
        issued_at=issued,
        form=row["form"],
        nature=row["nature"],
        payment_mode=row["payment_mode"],
        legal_article=row["legal_article"],
        cancels_id=row["cancels_id"],
        cancelled_at=aware(row["cancelled_at"]),
    )


class SqlPayouts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, payout: Payout) -> None:
        self.conn.execute(
            payouts.insert().values(
                id=payout.id,
                source_account=payout.source_account,
                requested_by=payout.requested_by,
                pot_id=payout.pot_id,
                amount_minor=payout.amount.minor,
                currency=payout.amount.currency,
                creditor_name=payout.creditor_name,
                iban=payout.iban,
                bic=payout.bic,
                remittance=payout.remittance,
                state=payout.state.value,
                created_at=utc(payout.created_at),
            )
        )

    def get(self, payout_id: str) -> Payout | None:
        row = self.conn.execute(select(payouts).where(payouts.c.id == payout_id)).mappings().first()
        return _payout(row) if row else None

    def of_batch(self, batch_id: str) -> list[Payout]:
        rows = self.conn.execute(
            select(payouts).where(payouts.c.batch_id == batch_id).order_by(payouts.c.id)
        ).mappings()
        return [_payout(r) for r in rows]

    def of_member(self, member_id: str) -> list[Payout]:
        rows = self.conn.execute(
            select(payouts)
            .where(payouts.c.requested_by == member_id)
            .order_by(payouts.c.created_at.desc())
        ).mappings()
        return [_payout(r) for r in rows]

    def lock_pending(self, *, limit: int) -> list[Payout]:
        """Pending payouts, oldest first, their rows locked (SKIP LOCKED: two operators
        never put one payout in two files)."""
        query = (
            select(payouts)
            .where(payouts.c.state == "pending")
            .order_by(payouts.c.created_at, payouts.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_payout(r) for r in self.conn.execute(query).mappings()]

    def assign(self, batch_id: str, payout_ids: list[str]) -> None:
        self.conn.execute(
            update(payouts)
            .where(payouts.c.id.in_(payout_ids), payouts.c.state == "pending")
            .values(state="batched", batch_id=batch_id)
        )

    def transition(
        self,
        payout_id: str,
        from_state: PayoutState,
        to_state: PayoutState,
        *,
        now: datetime,
        reason: str | None = None,
    ) -> bool:
        result = self.conn.execute(
            update(payouts)
            .where(payouts.c.id == payout_id, payouts.c.state == from_state.value)
            .values(state=to_state.value, finished_at=utc(now), reason=reason)
            .returning(payouts.c.id)
        )
        return result.first() is not None

    def add_batch(self, batch: PayoutBatch) -> None:
        self.conn.execute(
            payout_batches.insert().values(
                id=batch.id,
                created_at=utc(batch.created_at),
                created_by=batch.created_by,
                count=batch.count,
                total_minor=batch.total.minor,
                currency=batch.total.currency,
                xml=batch.xml,
            )
        )

    def batch(self, batch_id: str) -> PayoutBatch | None:
        row = (
            self.conn.execute(select(payout_batches).where(payout_batches.c.id == batch_id))
            .mappings()
            .first()
        )
        return _batch(row) if row else None

    def batches(self, limit: int = 50) -> list[PayoutBatch]:
        rows = self.conn.execute(
            select(payout_batches).order_by(payout_batches.c.created_at.desc()).limit(limit)
        ).mappings()
        return [_batch(r) for r in rows]

    def mark_executed(self, batch_id: str, now: datetime) -> bool:
        result = self.conn.execute(
            update(payout_batches)
            .where(payout_batches.c.id == batch_id, payout_batches.c.executed_at.is_(None))
            .values(executed_at=utc(now))
            .returning(payout_batches.c.id)
        )
        return result.first() is not None


def _payout(row: RowMapping) -> Payout:
    created = aware(row["created_at"])
    assert created is not None
    return Payout(
        id=row["id"],
        source_account=row["source_account"],
        requested_by=row["requested_by"],
        pot_id=row["pot_id"],
        amount=Money(row["amount_minor"], row["currency"]),
        creditor_name=row["creditor_name"],
        iban=row["iban"],
        bic=row["bic"],
        remittance=row["remittance"],
        state=PayoutState(row["state"]),
        batch_id=row["batch_id"],
        reason=row["reason"],
        created_at=created,
        finished_at=aware(row["finished_at"]),
    )


def _batch(row: RowMapping) -> PayoutBatch:
    created = aware(row["created_at"])
    assert created is not None
    return PayoutBatch(
        id=row["id"],
        created_at=created,
        created_by=row["created_by"],
        count=row["count"],
        total=Money(row["total_minor"], row["currency"]),
        xml=row["xml"],
        executed_at=aware(row["executed_at"]),
    )
