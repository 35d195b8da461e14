"""The ASGI application: API, the outside systems' sandbox routes, the web wallet, workers."""

from __future__ import annotations

import base64
import hashlib
import inspect
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from envoi import __version__
from envoi.bootstrap import Envoi, bootstrap, describe, prepare
from envoi.config import get_settings
from envoi.web import api, api_collecting, card_return, collecting_pages, errors, wallet
from envoi.web.input_guard import InputGuard
from envoi.web.metrics import CountRequests, metrics_response
from envoi.web.wallet_views import is_page_path, page_not_found
from envoi.workers.ingest import IngestThread
from envoi.workers.runner import WorkerThread

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def create_app(envoi: Envoi, *, run_workers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        prepare(envoi)
        worker = WorkerThread(envoi.jobs, envoi.settings.worker_poll_s) if run_workers else None
        # Each network reads in a loop of its own: a slow network never delays the others.
        ingests = (
            [IngestThread(name, ingest.step) for name, ingest in envoi.ingests.items()]
            if run_workers
            else []
        )
        for thread in [worker, *ingests]:
            if thread:
                thread.start()
        try:
            yield
        finally:
            for thread in [*ingests, worker]:
                if thread:
                    thread.stop()

    app = FastAPI(
        title="envoi",
        version=__version__,
        summary="Pay by posting: e-wallet payments from social-network commands",
        lifespan=lifespan,
        docs_url=None,  # served below from /static/docs: no CDN, works offline
        redoc_url=None,
    )
    app.state.envoi = envoi
    errors.install(app)
    _html_404_for_pages(app)
    app.add_middleware(InputGuard)  # NUL characters and oversized bodies stop here
    app.add_middleware(CountRequests)  # outermost: refusals are counted too
    app.include_router(api.router)
    app.include_router(api_collecting.router)
    app.include_router(collecting_pages.router)
    app.include_router(wallet.router)
    app.include_router(card_return.router)
    app.include_router(card_return.pages)
    app.mount("/static", StaticFiles(directory=Path(wallet.__file__).parent / "static"), "static")
    for prefix, router in envoi.routers:
        app.include_router(router, prefix=prefix)

    parts = describe(envoi.settings)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, object]:
        """Liveness, and which networks and card processor this deployment runs."""
        return {"status": "ok", "version": __version__, **parts}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics: requests, commands, confirmations, ledger, intents, lags."""
        return metrics_response(envoi.gauges)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return _swagger_ui(app)

    return app


def create_api_only_app() -> FastAPI:
    """The app from ``ENVOI_*`` settings, without the background jobs: what each process of
    ``envoi run --processes N`` serves (the jobs run in a process of their own)."""
    return create_app(bootstrap(get_settings()), run_workers=False)


def _html_404_for_pages(app: FastAPI) -> None:
    """An unknown address a person opens gets the wallet's HTML page; API paths keep
    ``errors.py``'s JSON."""
    json_handler = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (404, 405) and is_page_path(request.url.path):
            return page_not_found(request, exc.status_code, exc.headers)
        response = json_handler(request, exc)
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(StarletteHTTPException, http_error)


def _swagger_ui(app: FastAPI) -> HTMLResponse:
    assert app.openapi_url is not None
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} {app.version} — API",
        swagger_js_url=f"/static/docs/swagger-ui-bundle.js?v={__version__}",
        swagger_css_url=f"/static/docs/swagger-ui.css?v={__version__}",
        swagger_favicon_url="/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},  # no call to validator.swagger.io
    )
    # Only this page's own inline start-up script may run, besides our own files.
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.findall(bytes(page.body).decode())
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    page.headers["X-Content-Type-Options"] = "nosniff"
    return page
