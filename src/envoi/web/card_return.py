"""Where the card processor sends the cardholder back after 3-D Secure.

Stripe adds ``payment_intent`` to the return URL. Nothing in the request is believed:
the payment is read back from the processor (``Funding.charge_updated``), and the
wallet credited once whichever comes first, this return or the processor's webhook.
Then the cardholder sees the top-up's outcome on the top-up page (which needs their
session, like every wallet page).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from envoi.bootstrap import Envoi
from envoi.domain.errors import EnvoiError

router = APIRouter(include_in_schema=False)


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
