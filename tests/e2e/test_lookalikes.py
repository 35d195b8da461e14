"""Look-alike names and e-mails are refused over HTTP (API, wallet form, sandbox network).

The audit opened ``Вob Durand`` (Cyrillic В), ``Bob\\u200b Durand В`` and a second
account ``аlice@…`` (Cyrillic а): each read as someone else to a payer.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.people import PASSWORD, Person, unique
from tests.e2e.server import Server

LOOKALIKE_NAMES = ["\u0412ob Durand", "Bob\u200b Durand \u0412", "Al\u0456ce"]


def signup(server: Server, email: str, name: str = "Alice Martin") -> httpx.Response:
    body = {"email": email, "password": PASSWORD, "display_name": name, "locale": "en"}
    return httpx.post(f"{server.base_url}/api/v1/members", json=body, timeout=30)


@pytest.mark.parametrize("name", LOOKALIKE_NAMES)
def test_api_refuses_lookalike_display_names(server: Server, name: str) -> None:
    r = signup(server, f"{unique('lk')}@example.org", name)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "INVALID_DISPLAY_NAME"
    assert "alphabets" in r.json()["error"]["message"]
    nina = Person(server.base_url, "Nina Plain", unique("nina")).sign_up()
    r = nina.http.patch("/api/v1/me", json={"display_name": name})
    assert r.status_code == 422, r.text
    assert nina.http.get("/api/v1/me").json()["display_name"] == "Nina Plain"
    pot = {"hashtag": unique("pot"), "title": name}
    assert nina.http.post("/api/v1/me/pots", json=pot).status_code == 422


@pytest.mark.parametrize("name", LOOKALIKE_NAMES)
def test_sandbox_network_refuses_lookalike_display_names(server: Server, name: str) -> None:
    account = {"handle": unique("mal"), "display_name": name}
    r = httpx.post(f"{server.base_url}/sandbox/api/accounts", json=account, timeout=30)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["params"]["field"] == "display_name"


def test_lookalike_email_is_not_a_second_account(server: Server) -> None:
    local = unique("alice")
    assert signup(server, f"{local}@example.org").status_code == 201
    cyrillic = "\u0430" + local[1:]  # the same address with a Cyrillic а
    assert local.startswith("a")
    r = signup(server, f"{cyrillic}@example.org")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"] == {"reason": "email", "problem": "local_not_ascii"}
    r = signup(server, f"{local}x@ex\u0430mple.org")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["problem"] == "mixed_scripts"


def test_unicode_domain_is_kept_in_ascii_and_signs_in_either_way(server: Server) -> None:
    local = unique("hans")
    r = signup(server, f"{local}@M\u00fcnchen.de")
    assert r.status_code == 201, r.text
    assert r.json()["email"] == f"{local}@xn--mnchen-3ya.de"
    for typed in (f"{local}@m\u00fcnchen.de", f"{local}@xn--mnchen-3ya.de"):
        r = httpx.post(
            f"{server.base_url}/api/v1/auth/token",
            json={"email": typed, "password": PASSWORD},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    # The same address in its other form is the same account.
    assert signup(server, f"{local}@xn--mnchen-3ya.de").status_code == 409


def test_real_names_in_other_scripts_still_work(server: Server) -> None:
    for name in [
        "\u0411\u043e\u0440\u0438\u0441 \u0418\u0432\u0430\u043d\u043e\u0432",
        "Zo\u00eb Dupr\u00e9",
        "\u5c71\u7530 \u592a\u90ce Taro",
    ]:
        r = signup(server, f"{unique('real')}@example.org", name)
        assert r.status_code == 201, r.text
        assert r.json()["display_name"] == name


def test_wallet_signup_form_explains_a_lookalike_email(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as browser:
        form = browser.get("/signup", headers={"Accept-Language": "en"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        fields = {
            "csrf": csrf.group(1),
            "display_name": "Alice Martin",
            "email": f"\u0430{unique('lice')}@example.org",
            "password": PASSWORD,
            "locale": "en",
        }
        r = browser.post("/signup", data=fields, headers={"Accept-Language": "en"})
        assert r.status_code == 422, r.text
        assert "only unaccented Latin letters" in r.text
        fields |= {"email": f"{unique('al')}@example.org", "display_name": "\u0412ob Durand"}
        r = browser.post("/signup", data=fields, headers={"Accept-Language": "en"})
        assert r.status_code == 422, r.text
        assert "no mix of alphabets" in r.text
