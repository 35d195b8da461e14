"""``/webhooks/x``: X's Account Activity webhook.

``GET ?crc_token=…`` answers the challenge-response check X makes when the webhook is
registered and then regularly (the webhook stops receiving if it fails). Every ``POST``
must carry ``x-twitter-webhooks-signature`` over its raw body with the consumer secret,
else it is refused (403) before its JSON is even read. Each post is stored once by
network and id, so a replayed or retried delivery changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from envoi.adapters.networks.x.payloads import NETWORK, webhook_events
from envoi.adapters.networks.x.signing import SIGNATURE_HEADER, crc_response, signature_valid
from envoi.services.ports import InboundPort, NetworkEvent

log = structlog.get_logger(__name__)

MAX_BODY = 1_000_000


def _deliver(inbound: InboundPort, events: Sequence[NetworkEvent]) -> None:
    for event in events:
        if event.post is not None:
            inbound.receive_post(event.post)
        elif event.deleted_post_id is not None:
            inbound.receive_deletion(NETWORK, event.deleted_post_id)


def create_x_webhook_router(
    inbound: InboundPort, *, consumer_secret: str, bot_user_id: str
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/x")
    def crc(crc_token: str = Query(min_length=1, max_length=1000)) -> dict[str, str]:
        return crc_response(consumer_secret, crc_token)

    @router.post("/x")
    async def receive(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
        if not signature_valid(consumer_secret, raw, request.headers.get(SIGNATURE_HEADER)):
            log.warning("x.webhook_refused", reason="signature")
            return JSONResponse({"error": "invalid signature"}, status_code=403)
        try:
            payload = json.loads(raw)
        except ValueError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"error": "not an object"}, status_code=400)
        events = webhook_events(payload, bot_user_id)
        await run_in_threadpool(_deliver, inbound, events)
        return Response(status_code=200)

    return router
