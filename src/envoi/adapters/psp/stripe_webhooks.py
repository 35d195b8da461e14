"""``POST /webhooks/stripe``: Stripe's events, signature checked, applied once.

The signature is checked by the ``stripe`` library itself (``Webhook.construct_event``:
HMAC-SHA256 of ``timestamp.body`` with the endpoint's secret, compared in constant time,
the timestamp within the tolerance), on the raw body as received — never on a re-encoded
JSON. A refused event gets a 400 and changes nothing; an event we could not apply (the
database or Stripe unreachable) gets a 503, so Stripe delivers it again later.
"""

from __future__ import annotations

from collections.abc import Callable

import stripe
import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from envoi.adapters.psp.stripe import translate
from envoi.domain.errors import EnvoiError
from envoi.services.ports import ProcessorEvent

log = structlog.get_logger(__name__)


def create_stripe_webhook_router(
    handle: Callable[[ProcessorEvent], str], *, secret: str, tolerance_s: int
) -> APIRouter:
    router = APIRouter()

    @router.post("/stripe", include_in_schema=False)
    async def receive(request: Request) -> JSONResponse:
        payload = await request.body()
        signature = request.headers.get("stripe-signature", "")
        if not secret:
            # No secret configured: nothing can be verified, so nothing is believed.
            return _refused("webhook secret not configured", status=503)
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, secret, tolerance=tolerance_s
            )
        except stripe.SignatureVerificationError:
            log.warning("stripe_webhook_refused", reason="signature")
            return _refused("signature")
        except ValueError:
            return _refused("payload")
        try:
            outcome = await run_in_threadpool(handle, translate(event))
        except EnvoiError as exc:
            log.warning("stripe_webhook_not_applied", event_id=event.id, code=exc.code.value)
            return _refused(exc.code.value, status=503)
        return JSONResponse({"received": True, "outcome": outcome})

    return router


def _refused(reason: str, *, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "WEBHOOK_REFUSED", "reason": reason}}, status_code=status
    )
