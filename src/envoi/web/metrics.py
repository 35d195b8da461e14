"""``GET /metrics`` in Prometheus' text format, and the middleware that counts requests."""

from __future__ import annotations

import os
import time

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from envoi.metrics import REQUEST_SECONDS, REQUESTS


def metrics_response(gauges: Collector | None) -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # Several processes: sum what each wrote (a fresh registry per scrape, as
        # prometheus-client's multiprocess mode requires).
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    if gauges is not None:
        from_db = CollectorRegistry()
        from_db.register(gauges)
        body += generate_latest(from_db)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class CountRequests:
    """Counts every HTTP request by its route template (``/api/v1/me/intents/{intent_id}``,
    never the raw path: one series per route, not per id) and status, and times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, keep_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(template, scope["method"], str(status)).inc()
            REQUEST_SECONDS.labels(template).observe(time.perf_counter() - started)
