"""The ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from envoi import __version__
from envoi.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="envoi", version=__version__, summary="Pay by posting")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
