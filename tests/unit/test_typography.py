"""French as a French reader expects it: d’Alice, aux Restos du Cœur, no-break spaces."""

from __future__ import annotations

from envoi.domain.messages import render
from envoi.domain.typography import NBSP, NNBSP, french, punctuate
from envoi.web.i18n import Translator


def test_names_take_the_contractions_french_makes() -> None:
    received = render("received", "fr", amount="5,00\u00a0€", payer="Alice Martin")
    assert received == "Vous avez reçu 5,00\u00a0€ d’Alice Martin."
    sent = render("sent", "fr", amount="2,00\u00a0€", payee="Les Restos du Cœur")
    assert sent == "Vous avez envoyé 2,00\u00a0€ aux Restos du Cœur."
    assert render("sent", "fr", amount="1\u00a0€", payee="Le Secours").endswith("au Secours.")
    assert render("received", "fr", amount="1\u00a0€", payer="Bob Durand").endswith(
        "de Bob Durand."
    )
    assert render("received", "fr", amount="1\u00a0€", payer="@alice").endswith("de @alice.")
    held = render("held_for_payee", "fr", amount="3\u00a0€", payee="Inès")
    assert "jusqu’à ce qu’Inès ouvre" in held
    assert "pour Inès" in held


def test_english_is_left_as_written() -> None:
    assert (
        render("received", "en", amount="€5.00", payer="Alice") == "You received €5.00 from Alice."
    )


def test_apostrophes_and_no_break_spaces() -> None:
    text = render("PIN_LOCKED", "fr", minutes=15)
    assert "'" not in text
    assert "d’essais" in text
    assert f"essais{NBSP}:" in text
    assert punctuate("Déjà un portefeuille ?") == f"Déjà un portefeuille{NNBSP}?"
    assert punctuate("Bravo !") == f"Bravo{NNBSP}!"
    # A colon inside a URL or a time is not punctuation.
    assert punctuate("voir https://x.example/a:b à 12:30") == "voir https://x.example/a:b à 12:30"


def test_what_people_wrote_is_never_rewritten() -> None:
    # Fields are filled after the template is set right: a name keeps its own apostrophe.
    text = render("received", "fr", amount="1\u00a0€", payer="O'Brien {x}")
    assert text.endswith("d’O'Brien {x}.")
    assert french("de {payer}", {"payer": 3}) == "de {payer}"


def test_the_wallet_pages_too() -> None:
    _ = Translator("fr")
    assert _("landing.have_account") == f"Déjà un portefeuille{NNBSP}?"
    assert "l’argent" in _("landing.title")
