"""The ``envoi`` command."""

from __future__ import annotations

import typer

from envoi.config import get_settings

app = typer.Typer(
    help="envoi: pay by posting on a social network. Settings come from ENVOI_* variables.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to ENVOI_DATABASE_URL (SQLite file by default)."""
    from envoi.adapters.db.migrate import upgrade

    url = get_settings().database_url
    upgrade(url)
    typer.echo(f"Schema up to date: {_safe_url(url)}")


@app.command()
def run(
    port: int = typer.Option(8000, envvar="PORT", help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
) -> None:
    """Start the API, the web wallet and the workers in one process."""
    import uvicorn

    from envoi.adapters.db.migrate import upgrade
    from envoi.web.app import create_app

    settings = get_settings()
    upgrade(settings.database_url)
    typer.echo(f"envoi listening on http://{host}:{port}  (API docs: /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
