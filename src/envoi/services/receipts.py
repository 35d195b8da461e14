"""Donations' choices and tax receipts: issued when a donation settles, numbered without
gaps per organisation and year, never changed (a correction cancels and replaces)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import structlog

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import IntentKind, IntentState, PaymentIntent
from envoi.domain.receipts import TaxReceipt, receipt_year
from envoi.services.context import Context
from envoi.services.secrets import new_id
from envoi.services.unit_of_work import UnitOfWork, retry_conflicts

log = structlog.get_logger(__name__)
MESSAGE_MAX = 280
NO_ADDRESS = "Adresse non communiquée"


def issue_for(uow: UnitOfWork, intent: PaymentIntent, now: datetime) -> TaxReceipt | None:
    """In the settling transaction of a donation: its receipt, if the organisation may
    issue them (lock order: after the ledger legs, the counter row, then the insert)."""
    if intent.kind is not IntentKind.DONATE or intent.payee.member_id is None:
        return None
    org = uow.members.organisation(intent.payee.member_id)
    if org is None or not org.tax_receipts:
        return None
    year = receipt_year(now)
    donor = uow.members.get(intent.payer_member_id)
    assert donor is not None
    details = uow.donations.donor_details(donor.id)
    name, address = details if details else (donor.display_name, NO_ADDRESS)
    receipt = TaxReceipt(
        id=new_id("rcp"),
        organisation_id=org.member_id,
        year=year,
        number=uow.donations.next_receipt_number(org.member_id, year),
        intent_id=intent.id,
        donor_member_id=donor.id,
        donor_name=name,
        donor_address=address,
        org_legal_name=org.legal_name,
        org_address=org.address,
        org_registry_id=org.registry_id or "",
        org_purpose=org.purpose,
        amount=intent.amount,
        donated_at=now,
        issued_at=now,
    )
    uow.donations.add_receipt(receipt)
    uow.notices.notify(
        donor.id,
        "receipt_issued",
        {
            "number": receipt.reference,
            "amount": intent.amount.format(donor.locale),
            "payee": org.legal_name,
        },
        intent_id=intent.id,
        now=now,
    )
    return receipt


class Donations:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @retry_conflicts
    def choose(
        self, member_id: str, intent_id: str, *, message: str | None, anonymous: bool
    ) -> None:
        """Before the PIN: a message for the organisation, and whether the donor's name
        may appear on its page."""
        if message is not None:
            message = message.strip()[:MESSAGE_MAX] or None
        with self.ctx.uow() as uow:
            intent = uow.intents.get(intent_id)
            if intent is None or intent.payer_member_id != member_id:
                raise EnvoiError(ErrorCode.INTENT_NOT_FOUND)
            if (
                intent.kind is not IntentKind.DONATE
                or intent.state is not IntentState.AWAITING_CONFIRMATION
                or intent.payee.member_id is None
            ):
                raise EnvoiError(ErrorCode.NOT_A_DONATION)
            uow.donations.choose(intent_id, intent.payee.member_id, message, anonymous)
            uow.commit()

    @retry_conflicts
    def set_donor_details(self, member_id: str, *, full_name: str, address: str) -> None:
        """The name and postal address printed on this member's next receipts."""
        full_name, address = full_name.strip(), address.strip()
        if not 1 <= len(full_name) <= 200 or not 5 <= len(address) <= 500:
            raise EnvoiError(ErrorCode.VALIDATION_ERROR, reason="full_name, address")
        with self.ctx.uow() as uow:
            uow.donations.set_donor_details(member_id, full_name, address)
            uow.commit()

    def receipts(self, member_id: str, year: int | None = None) -> list[TaxReceipt]:
        with self.ctx.uow() as uow:
            return uow.donations.receipts_of_donor(member_id, year)

    def receipt(self, member_id: str, receipt_id: str) -> TaxReceipt:
        """The donor's own receipt, or the organisation's."""
        with self.ctx.uow() as uow:
            receipt = uow.donations.receipt(receipt_id)
        if receipt is None or member_id not in (
            receipt.donor_member_id,
            receipt.organisation_id,
        ):
            raise EnvoiError(ErrorCode.RECEIPT_NOT_FOUND)
        return receipt

    @retry_conflicts
    def reissue(self, member_id: str, receipt_id: str) -> TaxReceipt:
        """A correction (the donor's name or address changed): a new receipt, with the
        next number, that cancels the old one. The old one is kept as it was."""
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            old = uow.donations.receipt(receipt_id)
            if old is None or old.donor_member_id != member_id:
                raise EnvoiError(ErrorCode.RECEIPT_NOT_FOUND)
            year = receipt_year(now)
            # Lock order: the counter (level 5b), then the receipt it replaces.
            number = uow.donations.next_receipt_number(old.organisation_id, year)
            if not uow.donations.cancel_receipt(receipt_id, now):
                raise EnvoiError(ErrorCode.RECEIPT_ALREADY_CANCELLED)
            details = uow.donations.donor_details(member_id)
            name, address = details if details else (old.donor_name, old.donor_address)
            new = replace(
                old,
                id=new_id("rcp"),
                year=year,
                number=number,
                donor_name=name,
                donor_address=address,
                issued_at=now,
                cancels_id=old.id,
                cancelled_at=None,
            )
            uow.donations.add_receipt(new)
            uow.notices.notify(
                member_id,
                "receipt_replaced",
                {"old": old.reference, "number": new.reference},
                intent_id=old.intent_id,
                now=now,
            )
            uow.audit.record("receipt.reissued", member_id, old=old.id, new=new.id)
            uow.commit()
        log.info("receipt.reissued", old=old.id, new=new.id)
        return new
