"""The sandbox processor's 3-D Secure challenge page (mounted at ``/sandbox/psp``).

It stands in for the card issuer's page: the cardholder approves or fails, the
charge is final from then on, and envoi is told through ``on_charge_updated``.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from envoi.adapters.psp.sandbox import Outcome, SandboxCardProcessor, SandboxCharge
from envoi.domain.errors import EnvoiError, ErrorCode

logger = logging.getLogger(__name__)


class _PspRoute(APIRoute):
    """Refusals as ``{"error": {"code", "message"}}`` whatever app mounts the router."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError:
                return _error(422, ErrorCode.VALIDATION_ERROR, "outcome is approve or fail")
            except EnvoiError as exc:
                if exc.code is ErrorCode.NOT_FOUND:
                    return _error(404, exc.code, "No 3-D Secure challenge here.")
                return _error(400, exc.code, exc.code.value)

        return guarded


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class CompleteIn(BaseModel):
    outcome: Outcome


def _charge(charge: SandboxCharge) -> dict[str, Any]:
    r = charge.result
    return {
        "processor_ref": r.processor_ref,
        "status": r.status,
        "decline_code": r.decline_code,
        "action_url": r.action_url,
        "last4": r.last4,
        "amount_minor": charge.amount.minor,
        "currency": charge.amount.currency,
    }


_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authentification 3-D Secure / 3-D Secure authentication</title></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 2rem auto">
<h1>Authentification 3-D Secure / 3-D Secure authentication</h1>
<p>Banque sandbox / Sandbox bank — {amount}, carte / card •••• {last4}</p>
{body}
</body></html>"""

_BUTTONS = """<p>Confirmez-vous ce paiement ? / Do you approve this payment?</p>
<form method="post"><input type="hidden" name="outcome" value="approve">
<button type="submit">Approuver / Approve</button></form>
<form method="post"><input type="hidden" name="outcome" value="fail">
<button type="submit">Échec / Fail</button></form>"""

_DONE = {
    "succeeded": "<p>Paiement authentifié. / Payment authenticated.</p>",
    "declined": "<p>Authentification échouée. / Authentication failed.</p>",
}


def _page(charge: SandboxCharge) -> HTMLResponse:
    r = charge.result
    body = _BUTTONS if r.status == "requires_action" else _DONE[r.status]
    page = _PAGE.format(
        amount=html.escape(charge.amount.format("fr")), last4=html.escape(r.last4), body=body
    )
    # The issuer's page must not be framed by another site (clickjacking an approval).
    headers = {"X-Frame-Options": "DENY", "Cache-Control": "no-store"}
    return HTMLResponse(page, headers=headers)


def create_psp_sandbox_router(
    processor: SandboxCardProcessor, on_charge_updated: Callable[[str], None]
) -> APIRouter:
    """3-D Secure pages. ``on_charge_updated(ref)`` is called after each answer on a
    finished challenge — also a repeated one, so a callback lost to a crash is retried
    (like a webhook, at least once: the receiver is idempotent)."""
    router = APIRouter(route_class=_PspRoute, tags=["sandbox card processor"])

    def complete(ref: str, outcome: Outcome) -> SandboxCharge:
        charge, changed = processor.complete_3ds(ref, outcome)
        if not changed:
            logger.info("3-D Secure for %s already answered: %s", ref, charge.result.status)
        on_charge_updated(ref)
        return charge

    @router.get("/3ds/{ref}", response_class=HTMLResponse)
    def challenge(ref: str) -> HTMLResponse:
        charge = processor.get(ref)
        if not charge.three_ds:
            raise EnvoiError(ErrorCode.NOT_FOUND, processor_ref=ref)
        return _page(charge)

    @router.post("/3ds/{ref}", response_class=HTMLResponse)
    def answer(ref: str, outcome: Annotated[Outcome, Form()]) -> HTMLResponse:
        return _page(complete(ref, outcome))

    @router.post("/3ds/{ref}/complete")
    def answer_json(ref: str, body: CompleteIn) -> dict[str, Any]:
        return _charge(complete(ref, body.outcome))

    return router
