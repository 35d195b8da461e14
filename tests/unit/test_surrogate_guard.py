"""Lone surrogates: found exactly in JSON bodies, and never echoed by the error handlers."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.web import errors
from envoi.web.input_guard import _body_has_lone_surrogate

JSON = "application/json"


@pytest.mark.parametrize(
    "body",
    [
        rb'{"a": "\ud800"}',
        rb'{"a": "\uDBFF"}',
        rb'{"a": "\udc00"}',
        rb'{"a": "x\ud83dy\ude00"}',  # text between the halves
        rb'{"a": "\ude00\ud83d"}',  # in the wrong order
        rb'{"a": "\ud83d\n"}',  # another escape after the high half
        rb'{"a": "\\\ud800"}',  # an escaped backslash, then a real escape
        b'{"a": "\xed\xa0\x80"}',  # the bytes of U+D800, which json.loads decodes too
    ],
)
def test_lone_surrogates_are_found(body: bytes) -> None:
    assert _body_has_lone_surrogate(body, JSON)
    assert _body_has_lone_surrogate(body, "text/plain; charset=utf-8")


@pytest.mark.parametrize(
    "body",
    [
        rb'{"a": "\ud83d\ude00"}',  # a pair: one emoji
        rb'{"a": "\\ud800"}',  # an escaped backslash: six characters of text
        rb'{"a": "\u00e9\n\\"}',
        '{"a": "\U0001f600 \u00e9"}'.encode(),
        b"",
    ],
)
def test_text_and_pairs_are_not(body: bytes) -> None:
    assert not _body_has_lone_surrogate(body, JSON)


def test_forms_are_decoded_with_replacement() -> None:
    assert not _body_has_lone_surrogate(b"a=%ED%A0%80", "application/x-www-form-urlencoded")


def test_error_parameters_are_always_encodable() -> None:
    error = EnvoiError(ErrorCode.NOT_FOUND, handle="b\ud800b\U0001f600", n=3)
    assert error.params == {"handle": "b\ufffdb\U0001f600", "n": 3}
    str(error.params["handle"]).encode("utf-8")


def test_the_error_handler_answers_even_without_the_guard() -> None:
    """The handler alone (no middleware in this app) must still write its answer."""
    app = FastAPI()
    errors.install(app)

    @app.get("/echo/{value}")
    def echo(value: str) -> None:
        raise EnvoiError(ErrorCode.INVALID_HANDLE, handle=value + "\udfff")

    with TestClient(app) as client:
        r = client.get("/echo/bob")
    assert r.status_code == 422
    assert r.json()["error"]["details"]["handle"] == "bob\ufffd"
