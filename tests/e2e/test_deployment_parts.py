"""A deployment without the sandbox has no free money and no sandbox routes (issue 6,
finding 1). On PostgreSQL that is the default; on SQLite it is asked for explicitly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.databases import BACKENDS, empty_database
from tests.e2e.people import CARD_OK, Person, unique
from tests.e2e.server import Server, running_server


@pytest.fixture(scope="module", params=BACKENDS)
def production(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    # PostgreSQL: nothing but ENVOI_SANDBOX unset. SQLite: both parts switched off by name.
    parts = {"sandbox": "0"}
    if request.param == "sqlite":
        parts |= {"networks": "", "card_processor": "none"}
    with (
        empty_database(request.param, tmp_path_factory.mktemp("prod")) as url,
        running_server(url, tmp_path_factory.mktemp("logs"), **parts) as live,
    ):
        yield live


def test_health_says_what_runs(production: Server) -> None:
    off = httpx.get(f"{production.base_url}/healthz").json()
    assert (off["networks"], off["card_processor"], off["sandbox"]) == ([], "none", False)


def test_health_says_the_sandbox_runs(server: Server) -> None:
    on = httpx.get(f"{server.base_url}/healthz").json()
    assert (on["networks"], on["card_processor"], on["sandbox"]) == (["sandbox"], "sandbox", True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/sandbox/api/accounts"),
        ("GET", "/sandbox/"),
        ("GET", "/sandbox/api/timeline"),
        ("POST", "/sandbox/psp/3ds/ch_anything/complete"),
        ("GET", "/sandbox/psp/3ds/ch_anything"),
    ],
)
def test_sandbox_routes_do_not_exist(production: Server, method: str, path: str) -> None:
    response = httpx.request(method, f"{production.base_url}{path}", json={})
    assert response.status_code == 404, response.text


def test_a_top_up_without_a_processor_is_refused_and_moves_nothing(production: Server) -> None:
    payer = Person(production.base_url, "Paula Prod", unique("paula"), locale="en").sign_up()
    response = payer.http.post("/api/v1/me/topups", json={"amount_minor": 2000_00, **CARD_OK})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "TOPUP_UNAVAILABLE"
    assert response.json()["error"]["message"] == "Card top-ups are not offered by this service."
    assert payer.wallet()["available_minor"] == 0
    assert payer.history() == []
    result = production.cli("ledger", "check")
    assert result.returncode == 0, result.stderr


def test_pages_show_a_sandbox_banner_when_the_sandbox_runs(server: Server) -> None:
    assert 'class="sandbox-banner"' in httpx.get(f"{server.base_url}/").text


def test_pages_show_no_sandbox_without_it(production: Server) -> None:
    landing = httpx.get(f"{production.base_url}/").text
    assert 'class="sandbox-banner"' not in landing
    assert 'href="/sandbox/"' not in landing
