"""Bluesky is switched on by ENVOI_NETWORKS and configured by ENVOI_BLUESKY__*."""

from __future__ import annotations

from pathlib import Path

import pytest

from envoi.bootstrap import ConfigurationError, bootstrap
from envoi.config import Settings


def test_bluesky_named_without_its_account_refuses_to_start() -> None:
    settings = Settings(database_url="sqlite:///unused.db", networks=("bluesky",))
    assert any("ENVOI_BLUESKY__SERVICE_URL" in e for e in settings.configuration_errors())
    with pytest.raises(ConfigurationError):
        bootstrap(settings)


def test_the_bot_account_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENVOI_NETWORKS", "sandbox,bluesky")
    monkeypatch.setenv("ENVOI_BLUESKY__SERVICE_URL", "https://pds.example")
    monkeypatch.setenv("ENVOI_BLUESKY__IDENTIFIER", "@SmoneyFR.bsky.social")
    monkeypatch.setenv("ENVOI_BLUESKY__APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'envoi.db'}")
    assert settings.configuration_errors() == []
    assert settings.bluesky is not None
    assert settings.bluesky.chat_did == "did:web:api.bsky.chat"
    assert "abcd" not in repr(settings.bluesky)  # the app password is a secret
    app = bootstrap(settings)  # nothing is asked of the network before it is used
    try:
        gateway = app.ctx.gateway("bluesky")
        assert (gateway.bot_handle, gateway.grammar) == ("smoneyfr.bsky.social", "bluesky")
        assert set(app.ingests) == {"bluesky"}
    finally:
        app.engine.dispose()
