"""Every error code and every event speaks French and English."""

from __future__ import annotations

import pytest

from envoi.domain.catalog_flow import EVENTS
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import has_message, render, render_error


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_has_both_languages(code: ErrorCode) -> None:
    assert has_message(code)
    french = render_error(EnvoiError(code), "fr", bot="SmoneyFR")
    english = render_error(EnvoiError(code), "en", bot="SmoneyFR")
    assert french
    assert english
    assert french != english
    assert code.value not in (french, english)  # a real sentence, not the bare code


@pytest.mark.parametrize("key", sorted(EVENTS))
def test_every_event_has_both_languages(key: str) -> None:
    assert set(EVENTS[key]) == {"fr", "en"}
    assert render(key, "fr") != render(key, "en")


@pytest.mark.parametrize(
    ("network", "example"),
    [("matrix", "@bob:example.org"), ("bluesky", "@bob.bsky.social"), ("mastodon", "@bob@")],
)
def test_an_invalid_handle_is_explained_the_networks_way(network: str, example: str) -> None:
    for locale in ("fr", "en"):
        text = render_error(EnvoiError(ErrorCode.INVALID_HANDLE, network=network), locale)
        assert example in text
        assert "15" not in text  # X's rule is not the network's
    sandbox = render_error(EnvoiError(ErrorCode.INVALID_HANDLE, network="sandbox"), "en")
    assert "1 to 15" in sandbox
