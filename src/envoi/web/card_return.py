"""Where the card processor sends the cardholder back after 3-D Secure.

Stripe adds ``payment_intent`` to the return URL. Nothing in the request is believed:
the payment is read back from the processor (``Funding.charge_updated``), and the
wallet credited once whichever comes first, this return or the processor's webhook.
Then the cardholder sees the top-up's outcome on the top-up page (which needs their
session, like every wallet page).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from envoi.bootstrap import Envoi
from envoi.domain.errors import EnvoiError
from envoi.web.wallet import STRIPE_CSP, PageDep
from envoi.web.wallet_views import PageRoute

router = APIRouter(include_in_schema=False)
pages = APIRouter(route_class=PageRoute, include_in_schema=False)


@pages.get("/wallet/topup/authenticate")
def authenticate(
    page: PageDep, payment_intent: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    """3-D Secure in the page: Stripe.js shows the issuer's challenge (Stripe's
    ``use_stripe_sdk``), then sends the cardholder to the return URL below."""
    me = page.me
    try:
        key, secret = page.envoi.funding.in_page_authentication(me.id, payment_intent)
    except EnvoiError:
        return page.redirect("/wallet/topup")
    response = page.render(
        "topup_3ds.html",
        stripe_key=key,
        client_secret=secret,
        back_url=f"/wallet/topup/return?{urlencode({'payment_intent': payment_intent})}",
    )
    response.headers["Content-Security-Policy"] = STRIPE_CSP
    return response


@router.get("/wallet/topup/return")
async def card_return(
    request: Request, payment_intent: Annotated[str, Query(max_length=100)] = ""
) -> RedirectResponse:
    envoi: Envoi = request.app.state.envoi
    try:
        topup = await run_in_threadpool(envoi.funding.charge_updated, payment_intent)
    except EnvoiError:
        return RedirectResponse("/wallet/topup", status_code=303)
    return RedirectResponse(f"/wallet/topup?request_id={topup.id}", status_code=303)
