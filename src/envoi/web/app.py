"""The ASGI application: API, the outside systems' sandbox routes, the web wallet, workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from envoi import __version__
from envoi.bootstrap import Envoi, prepare
from envoi.web import api, errors, wallet
from envoi.web.input_guard import InputGuard
from envoi.workers.runner import WorkerThread


def create_app(envoi: Envoi, *, run_workers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        prepare(envoi)
        worker = WorkerThread(envoi.jobs, envoi.settings.worker_poll_s) if run_workers else None
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                worker.stop()

    app = FastAPI(
        title="envoi",
        version=__version__,
        summary="Pay by posting: e-wallet payments from social-network commands",
        lifespan=lifespan,
    )
    app.state.envoi = envoi
    errors.install(app)
    app.add_middleware(InputGuard)  # NUL characters and oversized bodies stop here
    app.include_router(api.router)
    app.include_router(wallet.router)
    app.mount("/static", StaticFiles(directory=Path(wallet.__file__).parent / "static"), "static")
    for prefix, router in envoi.routers:
        app.include_router(router, prefix=prefix)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
