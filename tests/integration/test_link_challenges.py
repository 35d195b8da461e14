"""Linking by proof of ownership over the API: a code, sent to the bot from the account."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from envoi.web.app import create_app
from tests.integration.flow_app import BOT, World

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the httpx it finds works the same.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.app, run_workers=False)) as client:
        yield client


def _member(client: TestClient, email: str, locale: str) -> dict[str, str]:
    body = {"email": email, "password": "long enough", "display_name": "Zoé", "locale": locale}
    assert client.post("/api/v1/members", json=body).status_code == 201
    token = client.post("/api/v1/auth/token", json={"email": email, "password": "long enough"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.mark.parametrize(
    ("locale", "words"), [("fr", "message privé contenant"), ("en", "direct message containing")]
)
def test_a_challenge_says_exactly_what_to_send_and_links_by_id(
    world: World, client: TestClient, locale: str, words: str
) -> None:
    zoe = world.app.sandbox.create_account("zoe", "Zoé")
    auth = _member(client, f"zoe-{locale}@example.org", locale)
    made = client.post(
        "/api/v1/me/identities/challenges",
        json={"network": "sandbox", "handle": "@zoe"},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    assert set(body) >= {"id", "code", "expires_at", "instructions"}
    assert body["code"] in body["instructions"]
    assert f"@{BOT}" in body["instructions"]
    assert words in body["instructions"]
    assert body["user_id"] == zoe.account.id
    # Renamed before sending: the code still links the same account.
    world.app.sandbox.rename(zoe.account.id, "zoe_new")
    dm = world.app.sandbox.post(zoe.account.id, body["code"].lower(), visibility="direct", to=BOT)
    world.app.sandbox.deliver(dm.id, world.app.intake)
    (identity,) = client.get("/api/v1/me/identities", headers=auth).json()
    assert identity["network"] == "sandbox"
    assert identity["user_id"] == zoe.account.id
    assert identity["handle"] == "zoe_new"
    # Used once: sent again, it links nothing more and is refused by DM.
    again = world.app.sandbox.post(zoe.account.id, body["code"], visibility="direct", to=BOT)
    world.app.sandbox.deliver(again.id, world.app.intake)
    world.app.delivery.deliver_due()
    linked, refused = reversed([p.text for p in world.app.sandbox.inbox(zoe.account.id)])
    assert "@zoe_new" in linked
    assert "/wallet/link" in refused


def test_an_expired_code_links_nobody(world: World, client: TestClient) -> None:
    zoe = world.app.sandbox.create_account("zoe", "Zoé")
    auth = _member(client, "zoe@example.org", "fr")
    code = client.post(
        "/api/v1/me/identities/challenges",
        json={"network": "sandbox", "handle": "zoe"},
        headers=auth,
    ).json()["code"]
    world.clock.advance(minutes=31)
    dm = world.app.sandbox.post(zoe.account.id, code, visibility="direct", to=BOT)
    world.app.sandbox.deliver(dm.id, world.app.intake)
    assert client.get("/api/v1/me/identities", headers=auth).json() == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"network": "sandbox", "handle": "nobody_here"}, 404, "NETWORK_USER_NOT_FOUND"),
        ({"network": "sandbox", "handle": "not a handle"}, 422, "INVALID_HANDLE"),
        ({"network": "myspace", "handle": "zoe"}, 422, "UNKNOWN_NETWORK"),
    ],
)
def test_challenges_refuse_with_reasons(
    client: TestClient, body: dict[str, str], status: int, code: str
) -> None:
    auth = _member(client, "z@example.org", "en")
    answer = client.post("/api/v1/me/identities/challenges", json=body, headers=auth)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
