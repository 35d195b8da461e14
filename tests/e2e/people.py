"""A person using envoi over HTTP: a wallet member and their sandbox network account."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
OPEN_CLIENTS: list[httpx.Client] = []  # closed after each test by the e2e conftest
PASSWORD = "correct horse battery"
PIN = "4821"
CARD_OK = {"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def unique(handle: str) -> str:
    """Handles are unique per network; tests share a server, so suffix them."""
    return f"{handle}{uuid.uuid4().hex[:5]}"[:15]


def eventually(probe: Callable[[], T | None], *, timeout: float = 15.0) -> T:
    """Wait for the workers to do their part (outbox delivery, expiry), polling the API."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


@dataclass
class Person:
    base_url: str
    name: str
    handle: str
    locale: str = "fr"
    api_token: str = ""
    sandbox_token: str = ""
    sandbox_id: str = ""
    member_id: str = ""
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=30)
        OPEN_CLIENTS.append(self.http)

    # --- network side -------------------------------------------------------------
    def join_network(self) -> Person:
        r = self.http.post(
            "/sandbox/api/accounts", json={"handle": self.handle, "display_name": self.name}
        )
        assert r.status_code == 201, r.text
        self.sandbox_token, self.sandbox_id = r.json()["token"], r.json()["id"]
        return self

    def post(self, text: str, *, visibility: str = "public", **extra: Any) -> str:
        r = self.http.post(
            "/sandbox/api/posts",
            json={"text": text, "visibility": visibility, **extra},
            headers={"Authorization": f"Bearer {self.sandbox_token}"},
        )
        assert r.status_code == 201, r.text
        post_id: str = r.json()["id"]
        return post_id

    def inbox(self) -> list[dict[str, Any]]:
        r = self.http.get(
            f"/sandbox/api/accounts/{self.handle}/inbox",
            headers={"Authorization": f"Bearer {self.sandbox_token}"},
        )
        assert r.status_code == 200, r.text
        posts: list[dict[str, Any]] = r.json()
        return posts

    # --- wallet side ----------------------------------------------------------------
    def sign_up(self, *, pin: str = PIN) -> Person:
        email = f"{self.handle.lower()}@example.org"
        r = self.http.post(
            "/api/v1/members",
            json={
                "email": email,
                "password": PASSWORD,
                "display_name": self.name,
                "locale": self.locale,
            },
        )
        assert r.status_code == 201, r.text
        self.member_id = r.json()["id"]
        r = self.http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.api_token = r.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {self.api_token}"
        assert self.http.put("/api/v1/me/pin", json={"pin": pin}).status_code == 204
        return self

    def link(self) -> dict[str, Any]:
        r = self.http.post(
            "/api/v1/me/identities", json={"network": "sandbox", "token": self.sandbox_token}
        )
        assert r.status_code == 201, r.text
        identity: dict[str, Any] = r.json()
        return identity

    def top_up(self, amount_minor: int, **card: Any) -> dict[str, Any]:
        r = self.http.post(
            "/api/v1/me/topups", json={"amount_minor": amount_minor, **(card or CARD_OK)}
        )
        assert r.status_code == 201, r.text
        topup: dict[str, Any] = r.json()
        return topup

    def wallet(self) -> dict[str, Any]:
        r = self.http.get("/api/v1/me/wallet")
        assert r.status_code == 200, r.text
        wallet: dict[str, Any] = r.json()
        return wallet

    def to_confirm(self) -> list[dict[str, Any]]:
        r = self.http.get("/api/v1/me/intents", params={"state": "awaiting_confirmation"})
        assert r.status_code == 200, r.text
        intents: list[dict[str, Any]] = r.json()
        return intents

    def intent(self, intent_id: str) -> dict[str, Any]:
        r = self.http.get(f"/api/v1/me/intents/{intent_id}")
        assert r.status_code == 200, r.text
        intent: dict[str, Any] = r.json()
        return intent

    def confirm(self, intent_id: str, pin: str = PIN) -> httpx.Response:
        return self.http.post(f"/api/v1/me/intents/{intent_id}/confirm", json={"pin": pin})

    def history(self) -> list[dict[str, Any]]:
        r = self.http.get("/api/v1/me/history")
        assert r.status_code == 200, r.text
        lines: list[dict[str, Any]] = r.json()
        return lines

    def notifications(self) -> list[dict[str, Any]]:
        r = self.http.get("/api/v1/me/notifications")
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found

    def member(self) -> Person:
        """Join the network, open a wallet, link them: the usual new member."""
        return self.join_network().sign_up().link_and_self()

    def link_and_self(self) -> Person:
        self.link()
        return self

    def pending_for(self, post_id: str) -> dict[str, Any]:
        """The intent a post of ours created, once envoi has received it."""
        del post_id  # intents are listed newest first; tests post one command at a time
        return eventually(lambda: next(iter(self.to_confirm()), None))
