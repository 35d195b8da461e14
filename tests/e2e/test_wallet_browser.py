"""The web wallet in a real Chromium, against the real server started as ``envoi run``.

Seeding goes through the public JSON API and the sandbox network over HTTP, as
people and networks would; the browser then does what a member does: sign in,
review a payment posted on the network, mistype the PIN, confirm, and see the
money arrive on the other side. Chromium is the system's (/usr/bin/chromium):
these tests never download a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from envoi.money import Money
from tests.e2e.browser import chromium, watched_contexts
from tests.e2e.people import eventually
from tests.e2e.server import running_server

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/envoi-confirm.png")  # noqa: S108 - a fixed path people look at
PASSWORD = "correct horse battery"
ALICE_PIN, BOB_PIN = "4821", "7395"
FIVE_EUROS_FR = Money(500, "EUR").format("fr")  # "5,00 €" with the narrow spaces babel uses


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``envoi run`` in a subprocess on a free port and a fresh SQLite file; stopped at the end."""
    work = tmp_path_factory.mktemp("wallet-e2e")
    with running_server(f"sqlite:///{work / 'e2e.db'}", work) as live:
        yield live.base_url


@dataclass
class Member:
    email: str
    name: str
    token: str
    sandbox_token: str


def _join(http: httpx.Client, name: str, handle: str, pin: str) -> Member:
    email = f"{handle}@example.org"
    r = http.post(
        "/api/v1/members",
        json={"email": email, "password": PASSWORD, "display_name": name, "locale": "fr"},
    )
    assert r.status_code == 201, r.text
    r = http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert http.put("/api/v1/me/pin", json={"pin": pin}, headers=auth).status_code == 204
    r = http.post("/sandbox/api/accounts", json={"handle": handle, "display_name": name})
    assert r.status_code == 201, r.text
    sandbox_token = r.json()["token"]
    r = http.post(
        "/api/v1/me/identities", json={"network": "sandbox", "token": sandbox_token}, headers=auth
    )
    assert r.status_code == 201, r.text
    return Member(email, name, token, sandbox_token)


@pytest.fixture(scope="module")
def people(base_url: str) -> dict[str, Member]:
    """Alice (50 € in her wallet) has posted ``#envoyer 5€ @bob``; it awaits her PIN."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        alice = _join(http, "Alice Durand", "alice", ALICE_PIN)
        bob = _join(http, "Bob Martin", "bob", BOB_PIN)
        r = http.post(
            "/api/v1/me/topups",
            json={
                "amount_minor": 5000,
                "card_number": "4242424242424242",
                "exp_month": 12,
                "exp_year": 2034,
                "cvc": "123",
            },
            headers={"Authorization": f"Bearer {alice.token}"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "succeeded", r.text
        r = http.post(
            "/sandbox/api/posts",
            json={"text": "@SmoneyFR #envoyer 5€ @bob", "visibility": "public"},
            headers={"Authorization": f"Bearer {alice.sandbox_token}"},
        )
        assert r.status_code == 201, r.text

        def awaiting() -> list[Any]:
            found = http.get(
                "/api/v1/me/intents",
                params={"state": "awaiting_confirmation"},
                headers={"Authorization": f"Bearer {alice.token}"},
            )
            assert found.status_code == 200, found.text
            items: list[Any] = found.json()
            return items

        eventually(awaiting)
    return {"alice": alice, "bob": bob}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def context_factory(browser: Browser, base_url: str) -> Iterator[Callable[..., BrowserContext]]:
    with watched_contexts(browser, base_url) as make:
        yield make


def _sign_in(page: Page, member: Member) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(member.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/wallet")


def test_alice_reviews_then_confirms_with_her_pin(
    people: dict[str, Member], context_factory: Callable[..., BrowserContext]
) -> None:
    alice = people["alice"]
    # A phone-sized screen: the wallet is one column on mobile.
    context = context_factory(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()

    page.goto("/wallet")
    page.wait_for_url("**/login?next=/wallet")  # private pages ask to sign in first
    _sign_in(page, alice)
    cookie = next(c for c in context.cookies() if c["name"] == "envoi_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"

    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Alice Durand")
    # 50 € topped up, 5 € held for the payment awaiting confirmation.
    expect(page.locator("#available")).to_have_text(Money(4500, "EUR").format("fr"))
    to_confirm = page.locator("#to-confirm")
    expect(to_confirm).to_contain_text("Bob Martin")
    expect(to_confirm).to_contain_text("@bob")
    expect(to_confirm).to_contain_text(FIVE_EUROS_FR)

    to_confirm.get_by_role("link", name="Vérifier et confirmer").click()
    page.wait_for_url("**/wallet/intents/*")
    # The payee and the amount are on screen before any PIN is asked for.
    expect(page.locator("#payee-name")).to_have_text("Bob Martin")
    expect(page.locator("#payee-handle")).to_have_text("@bob")
    expect(page.locator("#intent-amount")).to_have_text(FIVE_EUROS_FR)
    expect(page.locator("#intent-state")).to_have_text("En attente de confirmation")
    pin = page.get_by_label("Code secret")
    expect(pin).to_have_attribute("type", "password")
    expect(pin).to_have_attribute("inputmode", "numeric")
    expect(pin).to_have_attribute("autocomplete", "off")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    pin.fill("0000")  # not Alice's PIN
    page.get_by_role("button", name=f"Confirmer et payer {FIVE_EUROS_FR}").click()
    expect(page.locator(".field.invalid .error")).to_have_text(
        "Code secret incorrect. Essais restants avant blocage : 2."
    )
    expect(page.get_by_label("Code secret")).to_have_value("")  # a PIN is never sent back
    expect(page.locator("#intent-state")).to_have_text("En attente de confirmation")

    page.get_by_label("Code secret").fill(ALICE_PIN)
    page.get_by_role("button", name=f"Confirmer et payer {FIVE_EUROS_FR}").click()
    expect(page.get_by_role("status")).to_have_text("Paiement confirmé.")
    expect(page.locator("#intent-state")).to_have_text("Envoyé")
    expect(page.get_by_label("Code secret")).to_have_count(0)  # nothing left to confirm
    # Already sent: the page says so, and when it was created (not "requested").
    expect(page.locator("#summary-title")).to_have_text("Vous avez envoyé")
    expect(page.locator(".facts")).to_contain_text("Créé le")
    expect(page.locator(".facts")).not_to_contain_text("Demandé le")

    page.get_by_role("link", name="Retour au portefeuille").click()
    expect(page.locator("#available")).to_have_text(Money(4500, "EUR").format("fr"))
    expect(page.locator("#balance")).to_have_text(Money(4500, "EUR").format("fr"))
    expect(page.locator("#to-confirm")).to_contain_text("Aucun paiement n’attend")
    sent = page.locator(".history .row", has_text="Bob Martin")
    expect(sent).to_contain_text("−" + FIVE_EUROS_FR)
    expect(sent).to_contain_text("Envoyé")


def test_bob_sees_the_money_received(
    people: dict[str, Member], context_factory: Callable[..., BrowserContext]
) -> None:
    page = context_factory().new_page()
    _sign_in(page, people["bob"])
    expect(page.locator("#available")).to_have_text(FIVE_EUROS_FR)
    received = page.locator(".history .row", has_text="Alice Durand")
    expect(received).to_contain_text("+" + FIVE_EUROS_FR)
    expect(received).to_contain_text("Reçu")
    expect(page.locator(".notifications")).to_contain_text(
        f"Vous avez reçu {FIVE_EUROS_FR} d’Alice Durand."
    )


def test_an_english_visitor_signs_up_and_chooses_a_pin(
    people: dict[str, Member], context_factory: Callable[..., BrowserContext]
) -> None:
    page = context_factory(locale="en-GB").new_page()
    page.goto("/")  # no member yet: Accept-Language decides
    expect(page.get_by_role("heading", level=1)).to_have_text("Send money by posting a message")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("link", name="Open a wallet").first.click()
    expect(page.get_by_label("Language")).to_have_value("en")
    page.get_by_label("Your name").fill("Carol Smith")
    page.get_by_label("E-mail").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create my wallet").click()
    # Errors sit next to their fields, in the visitor's language.
    expect(page.locator("#f-email-error")).to_have_text("Invalid e-mail address.")
    expect(page.locator("#f-password-error")).to_have_text(
        "The password must be at least 8 characters."
    )
    page.get_by_label("E-mail").fill("carol@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create my wallet").click()
    page.wait_for_url("**/wallet")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello Carol Smith")
    expect(page.locator("#available")).to_have_text(Money(0, "EUR").format("en"))  # €0.00

    page.get_by_role("link", name="Choose my PIN").click()
    page.get_by_label("New PIN").fill("2468")
    page.get_by_label("Repeat the PIN").fill("2469")
    page.get_by_role("button", name="Save the PIN").click()
    expect(page.locator("#f-pin_again-error")).to_have_text("The two PINs differ.")
    page.get_by_label("New PIN").fill("2468")
    page.get_by_label("Repeat the PIN").fill("2468")
    page.get_by_role("button", name="Save the PIN").click()
    expect(page.get_by_role("status")).to_have_text("PIN saved.")

    # The switch changes the member's own language, kept for the next visit.
    page.get_by_role("button", name="Passer en français").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Réglages")
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_forms_refuse_posts_without_this_sessions_csrf_token(
    base_url: str, people: dict[str, Member]
) -> None:
    """Plain HTTP, no browser: what a forged cross-site form or a stolen-cookie replay meets."""
    login = {"email": people["bob"].email, "password": PASSWORD}
    with httpx.Client(base_url=base_url, headers={"Accept-Language": "fr"}) as http:
        page = http.get("/login")
        assert page.status_code == 200
        for header in ("x-frame-options", "content-security-policy", "cache-control"):
            assert header in page.headers
        assert page.headers["x-frame-options"] == "DENY"
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]

        refused = http.post("/login", data=login)  # no token at all
        assert refused.status_code == 403
        assert "Ce formulaire a expiré" in refused.text
        assert "Traceback" not in refused.text
        cross_site = http.post(
            "/login", data={**login, "csrf": token}, headers={"Origin": "https://evil.example"}
        )
        assert cross_site.status_code == 403

        ok = http.post("/login", data={**login, "csrf": token, "next": "//evil.example/"})
        assert ok.status_code == 303
        assert ok.headers["location"] == "/wallet"  # never an open redirect
        # Signing in starts a new session: the visitor's token is worth nothing now.
        assert http.post("/logout", data={"csrf": token}).status_code == 403

    with httpx.Client(base_url=base_url, cookies={"envoi_session": "forged.value"}) as http:
        assert http.get("/wallet").headers["location"] == "/login?next=/wallet"


def _auth(member: Member) -> dict[str, str]:
    return {"Authorization": f"Bearer {member.token}"}


def test_bob_sees_whom_he_asked_and_cannot_confirm_his_own_request(
    base_url: str, people: dict[str, Member], context_factory: Callable[..., BrowserContext]
) -> None:
    bob = people["bob"]
    with httpx.Client(base_url=base_url, timeout=30) as http:
        r = http.post(
            "/sandbox/api/posts",
            json={"text": "@SmoneyFR #demander 3€ @alice", "visibility": "public"},
            headers={"Authorization": f"Bearer {bob.sandbox_token}"},
        )
        assert r.status_code == 201, r.text

        def asked() -> str | None:
            found = http.get("/api/v1/me/intents", headers=_auth(bob)).json()
            return next((i["id"] for i in found if i["kind"] == "request"), None)

        intent_id = eventually(asked)
    page = context_factory(viewport={"width": 390, "height": 844}).new_page()
    _sign_in(page, bob)
    page.goto(f"/wallet/intents/{intent_id}")
    expect(page.locator("#summary-title")).to_have_text("Vous demandez")
    expect(page.locator("#intent-amount")).to_have_text(Money(300, "EUR").format("fr"))
    expect(page.locator(".summary .payee")).to_contain_text("Demandé à")
    expect(page.locator("#payer-name")).to_have_text("Alice Durand")
    expect(page.locator("#payer-handle")).to_have_text("@alice")
    expect(page.locator("#payee-name")).to_have_count(0)  # not "Recipient: Bob" to Bob
    expect(page.locator("#intent-state")).to_have_text("En attente de sa réponse")
    expect(page.locator(".facts")).to_contain_text("Demandé le")
    # Only the payer confirms: no PIN form, no cancel button for the requester.
    expect(page.get_by_label("Code secret")).to_have_count(0)
    expect(page.get_by_role("button", name="Annuler ce paiement")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Seule la personne à qui vous demandez")


def test_every_tab_is_on_screen_on_a_phone(
    people: dict[str, Member], context_factory: Callable[..., BrowserContext]
) -> None:
    page = context_factory(viewport={"width": 390, "height": 844}).new_page()
    _sign_in(page, people["bob"])
    page.goto("/wallet/settings")
    tabs = page.locator(".top nav a")
    expect(tabs).to_have_count(5)
    for i in range(5):
        box = tabs.nth(i).bounding_box()
        assert box is not None
        assert box["x"] >= 0, box
        assert box["x"] + box["width"] <= 390, (tabs.nth(i).inner_text(), box)
    current = page.locator('.top nav a[aria-current="page"]')
    expect(current).to_have_text("Réglages")
    expect(current).to_be_in_viewport(ratio=1)
    nav = page.locator(".top nav ul").evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert nav[0] <= nav[1], nav  # nothing hidden in a sideways scroll


@pytest.mark.parametrize(
    "case",
    [
        ("fr-FR", "/wallet/nope", "Un problème est survenu", "Page introuvable."),
        ("en-GB", "/wallet/nope", "Something went wrong", "Page not found."),
        ("en-GB", "/nope/at/all", "Something went wrong", "Page not found."),
    ],
)
def test_an_unknown_page_is_the_wallets_own_404(
    base_url: str, context_factory: Callable[..., BrowserContext], case: tuple[str, ...]
) -> None:
    locale, path, title, message = case
    page = context_factory(locale=locale).new_page()
    response = page.goto(path)
    assert response is not None
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_role("alert")).to_have_text(message)
    expect(page.locator("body")).not_to_contain_text('"error"')
    # Machines keep their JSON.
    with httpx.Client(base_url=base_url) as http:
        for api_path in ("/api/v1/nope", "/sandbox/api/nope"):
            refused = http.get(api_path)
            assert refused.status_code == 404
            assert refused.json()["error"]["code"] == "NOT_FOUND"


def _english_member(http: httpx.Client, email: str) -> str:
    r = http.post(
        "/api/v1/members",
        json={"email": email, "password": PASSWORD, "display_name": "Erin Park", "locale": "en"},
    )
    assert r.status_code == 201, r.text
    return email


def test_an_english_top_up_on_a_phone_lines_up_and_comes_back_from_3ds(
    base_url: str, context_factory: Callable[..., BrowserContext]
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        email = _english_member(http, "erin@example.org")
    page = context_factory(locale="en-GB", viewport={"width": 390, "height": 844}).new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/wallet")

    page.goto("/wallet/topup")
    expiry, cvc = page.get_by_label("Expiry (MM/YY)"), page.get_by_label("Security code (CVC)")
    a, b = expiry.bounding_box(), cvc.bounding_box()
    assert a is not None
    assert b is not None
    assert abs(a["y"] - b["y"]) < 1, (a, b)  # side by side, level, whatever the labels do
    assert abs(a["height"] - b["height"]) < 1, (a, b)
    page.screenshot(path="/tmp/envoi-topup-en.png", full_page=True)  # noqa: S108

    page.get_by_label("Amount (€)").fill("20")
    page.get_by_label("Card number").fill("4000 0000 0000 3220")  # asks for 3-D Secure
    expiry.fill("12/34")
    cvc.fill("123")
    page.get_by_role("button", name="Top up").click()
    page.wait_for_url("**/sandbox/psp/3ds/*")
    # The bank's page, in the cardholder's language, readable on a phone.
    expect(page.get_by_role("heading", level=1)).to_have_text("3-D Secure authentication")
    expect(page.locator("body")).to_contain_text("•••• 3220")
    box = page.locator(".box").bounding_box()
    assert box is not None
    assert box["x"] >= 8, box  # nothing touches the edges
    assert box["x"] + box["width"] <= 390 - 8, box
    page.get_by_role("button", name="Fail the authentication").click()
    # Back at the wallet, with the outcome in words.
    page.wait_for_url("**/wallet/topup?*")
    expect(page.locator("#topup-result")).to_contain_text("Card declined: authentication failed")
    page.goto("/wallet")
    # No money moved: no history line (issue 10, item 8); the notification says why.
    expect(page.locator(".history .row", has_text="Top-up")).to_have_count(0)
    expect(page.locator(".notifications")).to_contain_text("3-D Secure authentication failed")


def test_the_api_docs_load_without_the_internet(
    base_url: str, context_factory: Callable[..., BrowserContext]
) -> None:
    context = context_factory(viewport={"width": 1280, "height": 900})
    elsewhere: list[str] = []
    context.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith((base_url, "data:")) else None,
    )
    page = context.new_page()
    response = page.goto("/docs")
    assert response is not None
    assert response.status == 200
    # Swagger UI resolves the whole document before drawing: seconds on a busy machine.
    expect(page.locator(".info .title")).to_contain_text("envoi", timeout=30_000)
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/members").first).to_be_visible()
    assert elsewhere == []  # no CDN: every asset comes from envoi itself


def test_the_pay_button_and_the_pin_are_on_screen_on_a_phone(
    base_url: str, people: dict[str, Member], context_factory: Callable[..., BrowserContext]
) -> None:
    """At 390×844 the confirmation page shows the payee, the amount, the PIN field and
    "Confirmer et payer" without scrolling (the navigation wraps above them)."""
    alice = people["alice"]
    with httpx.Client(base_url=base_url, timeout=30) as http:
        r = http.post(
            "/sandbox/api/posts",
            json={"text": "@SmoneyFR #envoyer 2€ @bob", "visibility": "public"},
            headers={"Authorization": f"Bearer {alice.sandbox_token}"},
        )
        assert r.status_code == 201, r.text

        def waiting() -> str | None:
            found = http.get(
                "/api/v1/me/intents",
                params={"state": "awaiting_confirmation"},
                headers=_auth(alice),
            ).json()
            return next((i["id"] for i in found if i["amount_minor"] == 200), None)

        intent_id = eventually(waiting)
    page = context_factory(viewport={"width": 390, "height": 844}).new_page()
    _sign_in(page, alice)
    page.goto(f"/wallet/intents/{intent_id}")
    for visible in (
        page.locator("#payee-name"),
        page.locator("#intent-amount"),
        page.get_by_label("Code secret"),
        page.get_by_role("button", name="Confirmer et payer"),
    ):
        expect(visible).to_be_in_viewport(ratio=1)
    assert page.evaluate("window.scrollY") == 0
