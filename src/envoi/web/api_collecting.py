"""JSON API for collecting money: organisations, donations' choices, tax receipts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.legal_ids import masked_iban
from envoi.domain.model import Member, Organisation, Payout
from envoi.domain.receipts import TaxReceipt
from envoi.services.organisations import OrganisationForm, OrganisationPage
from envoi.services.pots import PotPage
from envoi.services.receipt_pdf import receipt_pdf, yearly_summary_pdf
from envoi.web.api import App, Me, client_address, intent_view, member_view, pot_view

router = APIRouter(prefix="/api/v1")


class OrganisationIn(BaseModel):
    """An organisation a member registers: it stays unverified until the operator checks
    it. Its own account signs in with ``email`` and ``password``."""

    email: str = Field(max_length=320)
    password: str = Field(min_length=8, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)
    legal_name: str = Field(min_length=1, max_length=200)
    registry_id: str = Field(min_length=1, max_length=40, description="SIREN, SIRET or RNA")
    address: str = Field(min_length=5, max_length=500)
    purpose: str = Field(default="", max_length=1000)
    tax_receipts: bool = False
    iban: str | None = Field(default=None, max_length=50)
    bic: str | None = Field(default=None, max_length=20)

    def form(self) -> OrganisationForm:
        return OrganisationForm(
            display_name=self.display_name,
            legal_name=self.legal_name,
            registry_id=self.registry_id,
            address=self.address,
            purpose=self.purpose,
            tax_receipts=self.tax_receipts,
            iban=self.iban,
            bic=self.bic,
        )


class DonationChoiceIn(BaseModel):
    message: str | None = Field(default=None, max_length=280)
    anonymous: bool = True


class DonorDetailsIn(BaseModel):
    full_name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=5, max_length=500)


def organisation_view(member: Member, org: Organisation) -> dict[str, Any]:
    """What anyone may read about an organisation (its IBAN masked)."""
    return {
        "id": member.id,
        "display_name": member.display_name,
        "legal_name": org.legal_name,
        "verified": member.verified,
        "registry_id": org.registry_id,
        "registry_kind": org.registry_kind,
        "address": org.address,
        "purpose": org.purpose,
        "tax_receipts": org.tax_receipts,
        "iban": masked_iban(org.iban) if org.iban else None,
    }


def page_view(page: OrganisationPage) -> dict[str, Any]:
    return {
        **organisation_view(page.member, page.organisation),
        "handles": [{"network": i.network, "handle": i.handle} for i in page.handles],
        "donations": [
            {
                "donor": d.donor,
                "amount_minor": d.amount.minor if d.amount else None,
                "currency": d.amount.currency if d.amount else None,
                "message": d.message,
                "at": d.at.isoformat(),
            }
            for d in page.donations
        ],
    }


def receipt_view(receipt: TaxReceipt) -> dict[str, Any]:
    return {
        "id": receipt.id,
        "number": receipt.reference,
        "organisation_id": receipt.organisation_id,
        "organisation": receipt.org_legal_name,
        "intent_id": receipt.intent_id,
        "amount_minor": receipt.amount.minor,
        "currency": receipt.amount.currency,
        "amount_in_words": receipt.amount_in_words,
        "donated_at": receipt.donated_at.isoformat(),
        "issued_at": receipt.issued_at.isoformat(),
        "cancels": receipt.cancels_id,
        "cancelled_at": receipt.cancelled_at.isoformat() if receipt.cancelled_at else None,
    }


def _pdf(data: bytes, name: str) -> Response:
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/organisations", status_code=201, tags=["organisations"])
def create_organisation(
    body: OrganisationIn, member: Me, envoi: App, request: Request
) -> dict[str, Any]:
    """Register an organisation; it is unverified (no donations) until the operator
    verifies it."""
    org_member, _ = envoi.organisations.register(
        body.form(),
        email=body.email,
        password=body.password,
        locale=member.locale,
        created_by=member.id,
        client=client_address(request),
    )
    return member_view(org_member)


@router.get("/organisations/{organisation_id}", tags=["organisations"])
def organisation_page(organisation_id: str, envoi: App) -> dict[str, Any]:
    """The public page: name, badge, purpose, recent donations as their donors chose."""
    return page_view(envoi.organisations.page(organisation_id))


@router.put("/me/intents/{intent_id}/donation", status_code=204, tags=["donations"])
def choose_donation(intent_id: str, body: DonationChoiceIn, member: Me, envoi: App) -> None:
    """Before the PIN: a message for the organisation, and whether your name appears."""
    envoi.donations.choose(member.id, intent_id, message=body.message, anonymous=body.anonymous)


@router.put("/me/donor-details", status_code=204, tags=["donations"])
def donor_details(body: DonorDetailsIn, member: Me, envoi: App) -> None:
    """The name and postal address printed on your tax receipts."""
    envoi.donations.set_donor_details(member.id, full_name=body.full_name, address=body.address)


@router.get("/me/tax-receipts", tags=["donations"])
def tax_receipts(
    member: Me, envoi: App, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> list[dict[str, Any]]:
    return [receipt_view(r) for r in envoi.donations.receipts(member.id, year)]


_PDF_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "A PDF document"}
}


@router.get(
    "/me/tax-receipts/summary/{year}.pdf",
    tags=["donations"],
    response_class=Response,
    responses=_PDF_ANSWER,
)
def tax_receipts_summary(
    year: Annotated[int, Path(ge=2000, le=2100)], member: Me, envoi: App
) -> Response:
    """The year's receipts in force and their total, for the tax return."""
    receipts = envoi.donations.receipts(member.id, year)
    name = receipts[-1].donor_name if receipts else member.display_name
    return _pdf(yearly_summary_pdf(name, year, receipts), f"dons-{year}.pdf")


@router.get("/me/tax-receipts/{receipt_id}", tags=["donations"])
def tax_receipt(receipt_id: str, member: Me, envoi: App) -> dict[str, Any]:
    return receipt_view(envoi.donations.receipt(member.id, receipt_id))


@router.get(
    "/me/tax-receipts/{receipt_id}/pdf",
    tags=["donations"],
    response_class=Response,
    responses=_PDF_ANSWER,
)
def tax_receipt_pdf(receipt_id: str, member: Me, envoi: App) -> Response:
    receipt = envoi.donations.receipt(member.id, receipt_id)
    return _pdf(receipt_pdf(receipt), f"recu-{receipt.reference}.pdf")


@router.post("/me/tax-receipts/{receipt_id}/reissue", status_code=201, tags=["donations"])
def reissue_tax_receipt(receipt_id: str, member: Me, envoi: App) -> dict[str, Any]:
    """A corrected receipt (your details changed) that cancels this one."""
    return receipt_view(envoi.donations.reissue(member.id, receipt_id))


# --- pots and payouts ----------------------------------------------------------------


class ContributionIn(BaseModel):
    amount_minor: int = Field(strict=True, gt=0)
    show_name: bool = False


class PotChoiceIn(BaseModel):
    show_name: bool


class PotPayoutIn(BaseModel):
    """To a member's wallet (``member_id``, default: the owner's own), or to an IBAN."""

    to: Literal["member", "iban"]
    member_id: str | None = Field(default=None, max_length=40)
    iban: str | None = Field(default=None, max_length=50)
    bic: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=70, description="The account holder")


def pot_page_view(page: PotPage) -> dict[str, Any]:
    return {
        **pot_view(page.pot),
        "owner": page.owner.display_name,
        "raised_minor": page.raised.minor,
        "currency": page.raised.currency,
        "progress_percent": page.progress_percent,
        "contributors": page.contributors,
        "names": page.names,
        "open": page.open,
        "url": page.url,
    }


def payout_view(payout: Payout) -> dict[str, Any]:
    return {
        "id": payout.id,
        "state": payout.state.value,
        "amount_minor": payout.amount.minor,
        "currency": payout.amount.currency,
        "iban": masked_iban(payout.iban),
        "name": payout.creditor_name,
        "reason": payout.reason,
        "batch_id": payout.batch_id,
        "created_at": payout.created_at.isoformat(),
    }


@router.get("/pots/{hashtag}", tags=["pots"])
def pot_page(hashtag: str, envoi: App) -> dict[str, Any]:
    """The public page: progress, contributors, the names they chose to show."""
    return pot_page_view(envoi.pots.page(hashtag))


@router.post("/pots/{hashtag}/contributions", status_code=201, tags=["pots"])
def contribute(hashtag: str, body: ContributionIn, member: Me, envoi: App) -> dict[str, Any]:
    """From the page: an intent to confirm with the PIN (fee shown in it first)."""
    intent = envoi.pots.contribute(member.id, hashtag, body.amount_minor)
    if body.show_name:
        envoi.pots.choose(member.id, intent.id, show_name=True)
    return intent_view(intent, member, envoi.settings.new_account_days)


@router.put("/me/intents/{intent_id}/pot-choice", status_code=204, tags=["pots"])
def pot_choice(intent_id: str, body: PotChoiceIn, member: Me, envoi: App) -> None:
    envoi.pots.choose(member.id, intent_id, show_name=body.show_name)


@router.post("/me/pots/{hashtag}/close", tags=["pots"])
def close_pot(hashtag: str, member: Me, envoi: App) -> dict[str, Any]:
    return pot_view(envoi.pots.close(member.id, hashtag))


@router.post("/me/pots/{hashtag}/payout", status_code=201, tags=["pots"])
def pay_out_pot(hashtag: str, body: PotPayoutIn, member: Me, envoi: App) -> dict[str, Any]:
    """Everything the pot holds, to a member's wallet or to an IBAN (a SEPA transfer)."""
    if body.to == "member":
        paid = envoi.pots.pay_out_to_member(member.id, hashtag, body.member_id or member.id)
        return {"to": "member", "amount_minor": paid.minor, "currency": paid.currency}
    if not body.iban:
        raise EnvoiError(ErrorCode.INVALID_IBAN)
    payout = envoi.pots.pay_out_to_iban(
        member.id, hashtag, iban=body.iban, name=body.name or member.display_name, bic=body.bic
    )
    return {"to": "iban", **payout_view(payout)}


@router.get("/me/payouts", tags=["pots"])
def payouts(member: Me, envoi: App) -> list[dict[str, Any]]:
    return [payout_view(p) for p in envoi.payouts.of_member(member.id)]
