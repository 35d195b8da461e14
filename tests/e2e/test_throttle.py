"""Sign-in and sign-up throttles over HTTP, with the default limits (fix 5 of issue 6).

The audit made 40 wrong password attempts in 18 s, then signed in; and ``POST /members``
answered ``EMAIL_TAKEN`` to anyone. Each client here has its own address through
``X-Forwarded-For`` (uvicorn trusts it from 127.0.0.1, as from a proxy there), so the
per-address counts of one test do not leak into another.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.people import PASSWORD, unique
from tests.e2e.server import Server, running_server

_addresses = (f"203.0.113.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Default free attempts; a first delay of a minute, so that a block outlasts the
    next request on a busy machine (tests/integration/test_throttle.py moves a clock
    through the growing delays); the sign-up limit lowered so the test stays short."""
    path = tmp_path_factory.mktemp("e2e-throttle") / "envoi.db"
    with running_server(
        f"sqlite:///{path}",
        tmp_path_factory.mktemp("logs"),
        signups_per_ip_per_hour="4",
        signin_first_delay_s="60",
        signin_free_attempts_per_ip="20",
    ) as live:
        yield live


def client(server: Server, address: str | None = None) -> httpx.Client:
    headers = {"X-Forwarded-For": address or next(_addresses), "Accept-Language": "en"}
    return httpx.Client(base_url=server.base_url, timeout=30, headers=headers)


def new_account(server: Server) -> str:
    email = f"{unique('th')}@example.org"
    body = {"email": email, "password": PASSWORD, "display_name": "Theo Throttle"}
    with client(server) as http:
        assert http.post("/api/v1/members", json=body).status_code == 201
    return email


def sign_in(http: httpx.Client, email: str, password: str) -> httpx.Response:
    return http.post("/api/v1/auth/token", json={"email": email, "password": password})


def assert_throttled(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"
    assert "Too many sign-in attempts" in r.json()["error"]["message"]
    wait = int(r.headers["Retry-After"])
    assert wait >= 1
    return wait


def test_a_new_account_signs_in_at_once(strict_server: Server) -> None:
    email = new_account(strict_server)
    with client(strict_server) as http:
        assert sign_in(http, email, PASSWORD).status_code == 200


def test_wrong_passwords_then_the_right_one_waits(strict_server: Server) -> None:
    email = new_account(strict_server)
    with client(strict_server) as http:
        for _ in range(5):  # the free attempts
            assert sign_in(http, email, "wrong password").status_code == 401
        # The 5th failure blocked the account: even the right password waits now.
        assert 50 < assert_throttled(sign_in(http, email, PASSWORD)) <= 60
    # From another address too: the account itself is throttled.
    with client(strict_server) as other:
        assert_throttled(sign_in(other, email, PASSWORD))


def test_one_address_guessing_many_accounts_is_throttled(strict_server: Server) -> None:
    address = next(_addresses)
    with client(strict_server, address) as http:
        for n in range(20):  # the address's free attempts, each on another e-mail
            r = sign_in(http, f"{unique('guess')}{n}@example.org", "wrong password")
            assert r.status_code == 401, r.text
        assert_throttled(sign_in(http, f"{unique('guess')}@example.org", "wrong password"))
        # A real account, right password, from that address: it waits too.
        email = new_account(strict_server)
        assert_throttled(sign_in(http, email, PASSWORD))
    with client(strict_server) as elsewhere:  # the account itself is not blocked
        assert sign_in(elsewhere, email, PASSWORD).status_code == 200


def test_signups_per_address_per_hour(strict_server: Server) -> None:
    taken = new_account(strict_server)
    with client(strict_server) as http:
        body = {"email": taken, "password": PASSWORD, "display_name": "Probe"}
        for _ in range(4):  # the limit: taken or not, every attempt counts
            assert http.post("/api/v1/members", json=body).status_code == 409
        r = http.post("/api/v1/members", json=body)
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "TOO_MANY_SIGNUPS"
        assert "Too many accounts opened" in r.json()["error"]["message"]
        assert 3000 < int(r.headers["Retry-After"]) <= 3600
        fresh = {**body, "email": f"{unique('new')}@example.org"}
        assert http.post("/api/v1/members", json=fresh).status_code == 429
    with client(strict_server) as other:  # another address is not affected
        fresh = {**body, "email": f"{unique('new')}@example.org"}
        assert other.post("/api/v1/members", json=fresh).status_code == 201


def _csrf(http: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', http.get(path).text)
    assert found is not None
    return found.group(1)


def test_wallet_forms_are_throttled_too(strict_server: Server) -> None:
    email = new_account(strict_server)
    with client(strict_server) as browser:
        fields = {"csrf": _csrf(browser, "/login"), "email": email, "password": "wrong"}
        for _ in range(5):
            assert browser.post("/login", data=fields).status_code == 401
        r = browser.post("/login", data={**fields, "password": PASSWORD})
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) >= 1
        assert "Too many sign-in attempts" in r.text
        assert "envoi_session" not in r.headers.get("set-cookie", "")
    with client(strict_server) as browser:
        fields = {
            "csrf": _csrf(browser, "/signup"),
            "display_name": "Wendy Web",
            "password": PASSWORD,
            "locale": "en",
        }
        for n in range(4):
            r = browser.post("/signup", data={**fields, "email": f"{unique('w')}{n}@example.org"})
            assert r.status_code == 303, r.text
            browser.cookies.clear()
            fields["csrf"] = _csrf(browser, "/signup")
        r = browser.post("/signup", data={**fields, "email": f"{unique('w')}@example.org"})
        assert r.status_code == 429, r.text
        assert "Too many accounts opened" in r.text
