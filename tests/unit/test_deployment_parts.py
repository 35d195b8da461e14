"""Which networks and card processor run is explicit; the sandbox never runs in production
by default (issue 6, finding 1: card 4242… minted money on PostgreSQL)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from envoi.bootstrap import ConfigurationError, bootstrap, describe
from envoi.config import Settings
from tests.unit.test_secrets_check import envoi

PG = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"  # never connected to
SQLITE = "sqlite:///envoi.db"
STRONG = secrets.token_urlsafe(48)
MATRIX = {
    "homeserver_url": "https://matrix.example.org",
    "user_id": "@envoi:example.org",
    "access_token": "syt_not_a_real_token",
}


def settings(database_url: str, **values: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _nothing_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVOI_SANDBOX", "ENVOI_NETWORKS", "ENVOI_CARD_PROCESSOR"):
        monkeypatch.delenv(name, raising=False)


def test_sqlite_runs_the_sandbox_by_default() -> None:
    demo = settings(SQLITE)
    assert demo.enabled_networks == ("sandbox",)
    assert demo.enabled_card_processor == "sandbox"
    assert demo.configuration_errors() == []
    assert describe(demo) == {"networks": ["sandbox"], "card_processor": "sandbox", "sandbox": True}


def test_postgresql_runs_nothing_free_by_default() -> None:
    prod = settings(PG)
    assert prod.enabled_networks == ()
    assert prod.enabled_card_processor == "none"
    assert prod.configuration_errors() == []
    assert describe(prod) == {"networks": [], "card_processor": "none", "sandbox": False}


def test_postgresql_with_envoi_sandbox_runs_the_sandbox() -> None:
    test = settings(PG, sandbox=True)
    assert test.enabled_networks == ("sandbox",)
    assert test.enabled_card_processor == "sandbox"
    assert test.configuration_errors() == []


@pytest.mark.parametrize(
    ("values", "refused"),
    [
        ({"networks": "sandbox"}, "ENVOI_NETWORKS"),
        ({"networks": "matrix, sandbox", "matrix": MATRIX}, "ENVOI_NETWORKS"),
        ({"card_processor": "sandbox"}, "ENVOI_CARD_PROCESSOR"),
    ],
)
def test_naming_the_sandbox_in_production_is_refused(
    values: dict[str, object], refused: str
) -> None:
    problems = settings(PG, **values).configuration_errors()
    assert len(problems) == 1
    assert refused in problems[0]
    assert "ENVOI_SANDBOX=1" in problems[0]
    with pytest.raises(ConfigurationError, match=refused):
        bootstrap(settings(PG, **values))


def test_matrix_without_its_account_is_refused() -> None:
    (problem,) = settings(PG, networks="matrix").configuration_errors()
    assert "ENVOI_MATRIX__ACCESS_TOKEN" in problem
    with pytest.raises(ConfigurationError, match="ENVOI_MATRIX__HOMESERVER_URL"):
        bootstrap(settings(PG, networks="matrix"))
    assert settings(PG, networks="matrix", matrix=MATRIX).configuration_errors() == []


def test_networks_are_a_comma_list_of_known_names() -> None:
    assert settings(SQLITE, networks=" Sandbox ,matrix,sandbox").enabled_networks == (
        "sandbox",
        "matrix",
    )
    assert settings(SQLITE, networks="").enabled_networks == ()
    with pytest.raises(ValidationError, match="unknown network 'myspace'"):
        settings(SQLITE, networks="sandbox,myspace")
    with pytest.raises(ValidationError, match="unknown card processor 'paypal'"):
        settings(SQLITE, card_processor="paypal")


def test_networks_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVOI_NETWORKS", "sandbox,matrix")
    monkeypatch.setenv("ENVOI_SANDBOX", "1")
    from_env = Settings(_env_file=None, database_url=PG)  # type: ignore[call-arg]
    assert from_env.enabled_networks == ("sandbox", "matrix")
    assert from_env.sandbox is True


@pytest.mark.parametrize(
    ("command", "env"),
    [
        (["run", "--port", "1"], {"ENVOI_NETWORKS": "sandbox"}),
        (["worker", "--once"], {"ENVOI_CARD_PROCESSOR": "sandbox"}),
    ],
)
def test_cli_refuses_the_sandbox_in_production_at_start(
    tmp_path: Path, command: list[str], env: dict[str, str]
) -> None:
    result = envoi(
        tmp_path,
        *command,
        ENVOI_DATABASE_URL=PG,
        ENVOI_PIN_KEY=STRONG,
        ENVOI_TOKEN_KEY=STRONG,
        **env,
    )
    assert result.returncode == 1
    assert "Refusing to start" in result.stderr
    assert "ENVOI_SANDBOX=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_refuses_to_seed_outside_sqlite(tmp_path: Path) -> None:
    result = envoi(tmp_path, "demo", "--once", ENVOI_DATABASE_URL=PG)
    assert result.returncode == 1
    assert "Refusing to seed" in result.stderr
    assert "ENVOI_SANDBOX=1" in result.stderr
    assert "Traceback" not in result.stderr
