"""The demo keys are refused outside SQLite: ``envoi run`` and ``envoi worker`` stop first."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envoi.config import DEMO_PIN_KEY, DEMO_TOKEN_KEY, Settings

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STRONG = secrets.token_urlsafe(48)


def settings(database_url: str, **keys: Any) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **keys)


@pytest.fixture(autouse=True)
def _no_keys_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVOI_PIN_KEY", raising=False)
    monkeypatch.delenv("ENVOI_TOKEN_KEY", raising=False)


def test_defaults_are_insecure() -> None:
    assert settings(PG).pin_key.get_secret_value() == DEMO_PIN_KEY
    assert settings(PG).token_key.get_secret_value() == DEMO_TOKEN_KEY
    assert settings(PG).insecure_secrets() == ["ENVOI_PIN_KEY", "ENVOI_TOKEN_KEY"]
    assert settings("sqlite:///envoi.db").insecure_secrets() == ["ENVOI_PIN_KEY", "ENVOI_TOKEN_KEY"]


def test_short_keys_are_insecure_and_long_ones_pass() -> None:
    assert settings(PG, pin_key="x" * 31, token_key=STRONG).insecure_secrets() == ["ENVOI_PIN_KEY"]
    assert settings(PG, pin_key=STRONG, token_key="short").insecure_secrets() == ["ENVOI_TOKEN_KEY"]
    assert settings(PG, pin_key="x" * 32, token_key=STRONG).insecure_secrets() == []


@pytest.mark.parametrize(
    ("url", "sqlite"),
    [
        ("sqlite:///envoi.db", True),
        ("sqlite+pysqlite:///:memory:", True),
        ("SQLite:///envoi.db", True),
        (PG, False),
        ("postgresql://u:p@db/envoi", False),
    ],
)
def test_sqlite_is_told_apart(url: str, sqlite: bool) -> None:
    assert settings(url).uses_sqlite is sqlite


def envoi(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENVOI_")}
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "envoi.cli", *args],
        env={**clean, **env},
        cwd=tmp_path,  # no .env from the checkout
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [["run", "--port", "1"], ["worker", "--once"]])
def test_cli_refuses_demo_keys_on_postgresql(tmp_path: Path, command: list[str]) -> None:
    # Port 1 cannot be bound by a test: the refusal must come before binding (and
    # before connecting: nothing needs to listen at the PostgreSQL address).
    result = envoi(tmp_path, *command, ENVOI_DATABASE_URL=PG)
    assert result.returncode != 0
    assert "Refusing to start" in result.stderr
    assert "ENVOI_PIN_KEY and ENVOI_TOKEN_KEY" in result.stderr
    assert "secrets.token_urlsafe(48)" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_warns_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'envoi.db'}"
    assert envoi(tmp_path, "db", "upgrade", ENVOI_DATABASE_URL=url).returncode == 0
    result = envoi(tmp_path, "worker", "--once", ENVOI_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1
    assert "ENVOI_PIN_KEY and ENVOI_TOKEN_KEY" in warnings[0]
    strong = envoi(
        tmp_path,
        "worker",
        "--once",
        ENVOI_DATABASE_URL=url,
        ENVOI_PIN_KEY=STRONG,
        ENVOI_TOKEN_KEY=STRONG,
    )
    assert strong.returncode == 0, strong.stderr
    assert "Warning:" not in strong.stderr
