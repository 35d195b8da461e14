"""Lone UTF-16 surrogates (JSON ``"\\ud800"``) are refused with a 422, never a 500.

Python decodes such an escape into a ``str`` that cannot be encoded as UTF-8: the
error handlers used to echo it back and failed to encode their own answer (500).
Every case goes over HTTP to the real server, on both databases. httpx cannot
send a lone surrogate with ``json=`` (it encodes to UTF-8 first), so the bodies
are written by hand.
"""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.people import Person, unique
from tests.e2e.server import Server

JSON = {"content-type": "application/json"}


def assert_refused(r: httpx.Response) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]  # the answer itself is valid JSON in UTF-8
    assert error["code"] == "VALIDATION_ERROR"
    assert "\\ud800" not in r.text.lower()


@pytest.mark.parametrize("escape", ["\\ud800", "\\uDFFF", "x\\ud83dy", "\\ude00\\ud83d"])
def test_sandbox_account_handle(server: Server, escape: str) -> None:
    body = '{"handle": "ESC", "display_name": "Sur Rogate"}'.replace("ESC", escape)
    r = httpx.post(f"{server.base_url}/sandbox/api/accounts", content=body, headers=JSON)
    assert_refused(r)


@pytest.mark.parametrize("field", ["to", "in_reply_to", "text"])
def test_sandbox_post_fields(server: Server, field: str) -> None:
    sam = Person(server.base_url, "Sam Surrogate", unique("sam")).join_network()
    body = '{"text": "hello", "visibility": "direct", "FIELD": "\\ud800"}'.replace("FIELD", field)
    headers = {**JSON, "authorization": f"Bearer {sam.sandbox_token}"}
    assert_refused(sam.http.post("/sandbox/api/posts", content=body, headers=headers))


def test_api_fields_and_query(server: Server) -> None:
    url = server.base_url
    signup = '{"email": "s\\ud800@example.org", "password": "long enough", "display_name": "S"}'
    assert_refused(httpx.post(f"{url}/api/v1/members", content=signup, headers=JSON))
    token = '{"email": "x@example.org", "password": "\\udbff"}'
    assert_refused(httpx.post(f"{url}/api/v1/auth/token", content=token, headers=JSON))
    # Nested in a list or an object, and with other escapes around it.
    nested = '{"a": [{"b": "\\\\\\u00e9\\ud800"}], "email": "x", "password": "y"}'
    assert_refused(httpx.post(f"{url}/api/v1/auth/token", content=nested, headers=JSON))


def test_a_real_pair_and_escaped_text_still_work(server: Server) -> None:
    nina = Person(server.base_url, "Nina Pair", unique("nina")).member()
    # A surrogate pair is one character (an emoji); "\\ud800" written with an escaped
    # backslash is six characters of text.
    for body, expected in [
        ('{"display_name": "Nina \\ud83d\\ude00"}', "Nina \U0001f600"),
        ('{"display_name": "Nina \\\\ud800"}', "Nina \\ud800"),
    ]:
        r = nina.http.patch("/api/v1/me", content=body, headers=JSON)
        assert r.status_code == 200, r.text
        assert r.json()["display_name"] == expected
