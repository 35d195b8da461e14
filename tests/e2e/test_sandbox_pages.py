"""A newcomer tries envoi with nothing but a browser: the demo network's own pages, the
wallet, the card issuer's 3-D Secure page — in a real Chromium against ``envoi run``.

Bob is already a member (made over the JSON API, as in the other end-to-end tests);
Dana is new: she creates her account on the sandbox network's pages, opens a wallet,
links the account with its token, tops up through 3-D Secure, posts a payment from the
network's compose form, reads the bot's answer there and confirms with her PIN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from envoi.money import Money
from tests.e2e.browser import chromium, watched_contexts
from tests.e2e.people import PASSWORD, PIN, Person, eventually, unique
from tests.e2e.server import Server

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp")  # noqa: S108 - fixed paths people look at
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def context_factory(browser: Browser, server: Server) -> Iterator[Callable[..., BrowserContext]]:
    with watched_contexts(browser, server.base_url) as make:
        yield make


def _fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


def test_a_newcomer_pays_from_the_demo_network(
    server: Server, context_factory: Callable[..., BrowserContext]
) -> None:
    bob = Person(server.base_url, "Bob Durand", unique("bob")).member()
    dana = unique("dana")
    context = context_factory(viewport=PHONE, device_scale_factor=2)
    page = context.new_page()

    # The wallet's home page leads to the demo network.
    page.goto("/")
    page.get_by_role("link", name="Essayer avec le réseau de démonstration").click()
    page.wait_for_url("**/sandbox/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Le réseau social de démonstration")
    _fits_the_phone(page)

    # 1. An account on the network; its token is shown once, and remembered by this browser.
    page.get_by_label("Identifiant").fill(dana)
    page.get_by_label("Nom affiché").fill("Dana Petit")
    page.get_by_role("button", name="Créer le compte").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Compte @{dana} créé")
    token = page.locator("#token").input_value()
    assert token.startswith("sbt_")
    expect(page.locator("#signed-in")).to_have_text(f"Connecté : @{dana}")
    cookie = next(c for c in context.cookies() if c["name"] == "sandbox_token")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/sandbox")
    _fits_the_phone(page)
    page.screenshot(path=str(SHOTS / "envoi-sandbox-created.png"), full_page=True)

    # 2. A wallet, opened from the "link it" button, which comes back to the link page.
    page.get_by_role("link", name="Reliez-le dans votre portefeuille").click()
    page.wait_for_url("**/login?next=/wallet/link")
    page.get_by_role("link", name="Ouvrir un portefeuille").last.click()
    page.get_by_label("Votre nom").fill("Dana Petit")
    page.get_by_label("E-mail").fill(f"{dana}@example.org")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon portefeuille").click()
    page.wait_for_url("**/wallet/link")
    page.get_by_label("Jeton du compte sandbox").fill(token)
    page.get_by_role("button", name="Relier ce compte").click()
    expect(page.get_by_role("status")).to_have_text(f"Compte @{dana} relié.")

    page.goto("/wallet/settings")
    page.get_by_label("Nouveau code secret").fill(PIN)
    page.get_by_label("Confirmez le code secret").fill(PIN)
    page.get_by_role("button", name="Enregistrer le code secret").click()
    expect(page.get_by_role("status")).to_have_text("Code secret enregistré.")

    # 3. Money in, through the card issuer's 3-D Secure page and back.
    page.goto("/wallet/topup")
    page.get_by_label("Montant (€)").fill("20")
    page.get_by_label("Numéro de carte").fill("4000 0000 0000 3220")
    page.get_by_label("Expiration (MM/AA)").fill("12/34")
    page.get_by_label("Cryptogramme (CVC)").fill("123")
    page.get_by_role("button", name="Recharger").click()
    page.wait_for_url("**/sandbox/psp/3ds/*")
    expect(page.get_by_role("heading", level=1)).to_have_text("Authentification 3-D Secure")
    expect(page.locator("dl")).to_contain_text(Money(2000, "EUR").format("fr"))
    _fits_the_phone(page)
    page.screenshot(path=str(SHOTS / "envoi-3ds.png"), full_page=True)
    page.get_by_role("button", name="Approuver").click()
    page.wait_for_url("**/wallet/topup?*")
    expect(page.locator("#topup-result")).to_contain_text(
        f"{Money(2000, 'EUR').format('fr')} ont été ajoutés à votre portefeuille."
    )

    # 4. The payment, posted from the network's own compose form (no token to retype).
    page.goto("/sandbox/post")
    expect(page.locator("main")).to_contain_text(f"Vous publiez en tant que @{dana}.")
    page.get_by_label("Message", exact=True).fill(f"@SmoneyFR #envoyer 2€ @{bob.handle}")
    page.get_by_role("button", name="Publier").click()
    page.wait_for_url("**/sandbox/posts/*")
    expect(page.get_by_role("status")).to_contain_text("Message publié.")
    # The bot's answer appears by itself (issue 10, item 12): no reload, no "Actualiser".
    page.evaluate("window.stillTheSamePage = true")  # a reload would forget it
    expect(page.locator("#replies .post").first).to_be_visible(timeout=20_000)
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.get_by_role("link", name="Actualiser")).to_have_count(0)
    reply = page.locator("#replies .post").first
    expect(reply).to_contain_text("@SmoneyFR")
    expect(reply).to_contain_text(Money(200, "EUR").format("fr"))
    _fits_the_phone(page)
    page.screenshot(path=str(SHOTS / "envoi-sandbox-reply.png"), full_page=True)
    # The same answer is in the public timeline (or the inbox, for a private one).
    page.goto("/sandbox/timeline")
    expect(page.locator(".post", has_text=f"#envoyer 2€ @{bob.handle}").first).to_be_visible()
    page.goto("/sandbox/inbox")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Boîte de réception de @{dana}")
    inbox_reply = page.locator(".post", has=page.locator("a[href*='/wallet/intents/']"))
    expect(inbox_reply.first).to_be_visible()

    # 5. The bot's link leads to the confirmation page: check, PIN, paid.
    inbox_reply.first.locator("a[href*='/wallet/intents/']").click()
    page.wait_for_url("**/wallet/intents/*")
    expect(page.locator("#summary-title")).to_have_text("Vous envoyez")
    expect(page.locator("#payee-handle")).to_have_text(f"@{bob.handle}")
    page.get_by_label("Code secret").fill(PIN)
    page.get_by_role("button", name=f"Confirmer et payer {Money(200, 'EUR').format('fr')}").click()
    expect(page.get_by_role("status")).to_have_text("Paiement confirmé.")
    expect(page.locator("#summary-title")).to_have_text("Vous avez envoyé")

    # Bob sees the 2 € in his own wallet.
    assert eventually(lambda: bob.wallet()["balance_minor"] == 200)
    bob_page = context_factory().new_page()
    bob_page.goto("/login")
    bob_page.get_by_label("E-mail").fill(f"{bob.handle.lower()}@example.org")
    bob_page.get_by_label("Mot de passe").fill(PASSWORD)
    bob_page.get_by_role("button", name="Se connecter").click()
    bob_page.wait_for_url("**/wallet")
    expect(bob_page.locator("#available")).to_have_text(Money(200, "EUR").format("fr"))


def test_the_network_pages_sign_in_by_token_and_refuse_other_sites(
    server: Server, context_factory: Callable[..., BrowserContext]
) -> None:
    erin = Person(server.base_url, "Erin Moss", unique("erin")).join_network()
    page = context_factory(locale="en-GB").new_page()
    page.goto("/sandbox/inbox")
    expect(page.locator("main")).to_contain_text("Sign in with your account's token")
    page.get_by_label("Token", exact=True).fill("sbt_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#s-token-error")).to_have_text(
        "This token opens no account on this network."
    )
    page.get_by_label("Token", exact=True).fill(erin.sandbox_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in")).to_have_text(f"Signed in: @{erin.handle}")
    page.goto("/sandbox/post")
    page.get_by_label("Direct message", exact=True).check()
    page.get_by_label("Message", exact=True).fill("hello, anyone?")
    page.get_by_role("button", name="Post").click()
    # A direct message with no one to go to is refused next to its field.
    expect(page.locator("#s-to-error")).to_contain_text("A direct message goes to someone")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signed-in")).to_have_count(0)
    response = page.goto("/sandbox/posts/sbp_0000000000000000")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("alert")).to_have_text("No such post.")

    # What a form on another site would send with Erin's cookie (were it not SameSite=Strict).
    cookies = {"sandbox_token": erin.sandbox_token}
    with httpx.Client(base_url=server.base_url, cookies=cookies) as http:
        forged = http.post(
            "/sandbox/post",
            data={"text": "@SmoneyFR #envoyer 50€ @eve"},
            headers={"Origin": "https://evil.example", "Accept-Language": "en"},
        )
        assert forged.status_code == 403
        assert "does not come from this site" in forged.text
        assert "x-frame-options" in forged.headers
        timeline = http.get("/sandbox/api/timeline").json()
    assert not any("50€ @eve" in post["text"] for post in timeline)
