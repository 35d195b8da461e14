"""Public pages for collecting money: an organisation's page and a pot's (anyone may read
them; contributing from a pot's page takes a signed-in member, then the PIN)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from envoi.services.receipt_pdf import receipt_pdf, yearly_summary_pdf
from envoi.web.wallet import PostDep, _euros_to_minor
from envoi.web.wallet_views import Page, PageRoute, load_page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(load_page)]


@router.get("/organisations/{organisation_id}")
def organisation_page(organisation_id: str, page: PageDep) -> Response:
    org_page = page.envoi.organisations.page(organisation_id)
    return page.render("organisation.html", org_page=org_page)


@router.get("/pots/{hashtag}")
def pot_page(hashtag: str, page: PageDep) -> Response:
    return page.render("pot.html", view=page.envoi.pots.page(hashtag), errors={})


@router.post("/pots/{hashtag}/contribute")
def contribute(hashtag: str, post: PostDep) -> Response:
    """From the page: the intent goes to the wallet's confirmation page (fee, then PIN)."""
    page, form = post.page, post.form
    me = page.me
    amount = _euros_to_minor(form.get("amount", ""))
    if not amount:
        view = page.envoi.pots.page(hashtag)
        errors = {"amount": page._("topup.amount_invalid")}
        return page.render("pot.html", status=422, view=view, errors=errors)
    intent = page.envoi.pots.contribute(me.id, hashtag, amount)
    if form.get("show_name"):
        page.envoi.pots.choose(me.id, intent.id, show_name=True)
    return page.redirect(f"/wallet/intents/{intent.id}")


@router.get("/wallet/receipts")
def receipts(page: PageDep) -> Response:
    found = page.envoi.donations.receipts(page.me.id)
    years = sorted({r.year for r in found}, reverse=True)
    return page.render("receipts.html", receipts=found, years=years)


@router.get("/wallet/receipts/summary-{year}.pdf")
def receipts_summary(year: int, page: PageDep) -> Response:
    found = page.envoi.donations.receipts(page.me.id, year)
    name = found[-1].donor_name if found else page.me.display_name
    return _pdf(yearly_summary_pdf(name, year, found), f"dons-{year}.pdf")


@router.get("/wallet/receipts/{receipt_id}.pdf")
def receipt(receipt_id: str, page: PageDep) -> Response:
    found = page.envoi.donations.receipt(page.me.id, receipt_id)
    return _pdf(receipt_pdf(found), f"recu-{found.reference}.pdf")


def _pdf(data: bytes, name: str) -> Response:
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
