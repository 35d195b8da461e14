"""NUL characters and oversized bodies are refused at the edge, on both databases.

PostgreSQL cannot store a NUL in a text column: without the guard these requests
reached the database and answered 500. Every case runs against the real server.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.people import PASSWORD, Person, unique
from tests.e2e.server import Server

ONE_MIB = 1024 * 1024


def member(server: Server, locale: str = "en") -> Person:
    return Person(server.base_url, "Nina Nul", unique("nina"), locale=locale).member()


def assert_refused(r: httpx.Response, where: str = "") -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/json")
    error: dict[str, str] = r.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "NUL" in error["message"]
    assert where in error["message"]
    return error


def test_nul_in_json_bodies(server: Server) -> None:
    nina = member(server)
    anon = httpx.Client(base_url=server.base_url, timeout=30)
    with anon:
        # httpx writes "\x00" as the JSON escape \u0000.
        signup = {"email": "a\x00b@example.org", "password": PASSWORD, "display_name": "A"}
        assert_refused(anon.post("/api/v1/members", json=signup), "body")
        token = {"email": "a\x00@example.org", "password": "x"}
        assert_refused(anon.post("/api/v1/auth/token", json=token))
        # The escape in upper case, and a raw NUL byte.
        raw = b'{"email": "a\\u0000@example.org", "password": "x"}'.replace(b"u0000", b"U0000")
        assert_refused(anon.post("/api/v1/auth/token", content=raw))
        raw = b'{"email": "a\x00@example.org", "password": "x"}'
        assert_refused(
            anon.post("/api/v1/auth/token", content=raw, headers={"content-type": "text/plain"})
        )
        # The sandbox network's own routes are covered too.
        account = {"handle": "nul", "display_name": "x\x00"}
        assert_refused(anon.post("/sandbox/api/accounts", json=account))

    assert_refused(nina.http.patch("/api/v1/me", json={"display_name": "x\x00y"}))
    assert_refused(nina.http.post("/api/v1/me/pots", json={"hashtag": "ab", "title": "t\x00"}))
    card = {"card_number": "4242 4242 4242 4242\x00", "exp_month": 12, "exp_year": 2034}
    assert_refused(nina.http.post("/api/v1/me/topups", json={"amount_minor": 1000, **card}))
    assert nina.wallet()["balance_minor"] == 0


def test_refusal_speaks_the_callers_language(server: Server) -> None:
    r = httpx.post(
        f"{server.base_url}/api/v1/auth/token",
        json={"email": "a\x00@example.org", "password": "x"},
        headers={"Accept-Language": "fr-FR,fr;q=0.9"},
    )
    error = assert_refused(r)
    assert error["message"].startswith("Requête invalide")
    assert "corps" in error["message"]
    english = httpx.post(
        f"{server.base_url}/api/v1/auth/token",
        json={"email": "a\x00@example.org", "password": "x"},
    )
    assert assert_refused(english)["message"].startswith("Invalid request")


def test_nul_in_path_and_query(server: Server) -> None:
    nina = member(server)
    assert_refused(nina.http.get("/api/v1/me/intents/%00x"), "path")
    assert_refused(nina.http.post("/api/v1/me/intents/int_%00/confirm", json={"pin": "1234"}))
    assert_refused(nina.http.get("/api/v1/me/topups/%00"), "path")
    assert_refused(nina.http.get("/api/v1/me/intents", params={"state": "\x00"}), "query")
    assert_refused(nina.http.get("/api/v1/me/history?x=a%00b"), "query")
    # Without the guard these were a 404 (path) and a 200 (query): the same routes still are.
    assert nina.http.get("/api/v1/me/intents/int_missing").status_code == 404
    assert nina.http.get("/api/v1/me/history", params={"x": "a b"}).status_code == 200


def test_nul_in_the_wallet_login_form(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as browser:
        form = browser.get("/login")
        assert form.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        fields = {"csrf": csrf.group(1), "email": "a\x00@example.org", "password": "x"}
        r = browser.post("/login", data=fields)  # urlencoded: the NUL travels as %00
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "NUL" in r.text
        assert 'lang="fr"' in r.text  # a visitor with no preference reads French
        # The same form without the NUL is an ordinary wrong password.
        fields["email"] = "nobody@example.org"
        assert browser.post("/login", data=fields).status_code == 401


def test_oversized_body_is_413(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        big = b'{"email": "' + b"a" * ONE_MIB + b'", "password": "x"}'
        r = client.post("/api/v1/auth/token", content=big)
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"
        # The service is still there, for this client and for others.
        assert client.get("/healthz").status_code == 200
    # A body just under the cap is read and validated as usual.
    almost = {"email": "a" * (ONE_MIB - 100), "password": "x"}
    r = httpx.post(f"{server.base_url}/api/v1/auth/token", json=almost)
    assert r.status_code in {401, 422}, r.text


@pytest.mark.parametrize(
    "text",
    [
        "backslash then u0000: \\u0000 is text, not a NUL",
        "a discount of 100%00 is just text in JSON",
    ],
)
def test_look_alikes_still_work(server: Server, text: str) -> None:
    nina = member(server)
    r = nina.http.patch("/api/v1/me", json={"display_name": text})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == text


def test_normal_requests_still_work(server: Server) -> None:
    alice = member(server)
    bob = member(server)
    assert alice.top_up(20_00)["status"] == "succeeded"
    post_id = alice.post(f"@SmoneyFR #envoyer 2€ @{bob.handle}")
    intent = alice.pending_for(post_id)
    assert alice.confirm(intent["id"]).json()["state"] == "settled"
    assert bob.wallet()["balance_minor"] == 2_00
