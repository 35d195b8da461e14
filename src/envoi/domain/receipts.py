"""Donations as the public sees them, and tax receipts ("reçus fiscaux", CERFA 11580).

A receipt is a snapshot: the organisation's and the donor's details as they were when
it was issued. It never changes; a correction is a new receipt that cancels it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from num2words import num2words

from envoi.money import Money

PARIS = ZoneInfo("Europe/Paris")
# The fields of CERFA 11580 a donation through envoi fills: a manual gift (a payment from
# a wallet), in money, by transfer; the reduction for individuals (article 200 CGI), or
# for companies (article 238 bis CGI).
FORM = "Déclaration de don manuel"
NATURE = "Numéraire"
PAYMENT_MODE = "Virement, prélèvement, carte bancaire"
ARTICLE_INDIVIDUAL = "200 du CGI"
ARTICLE_COMPANY = "238 bis du CGI"


@dataclass(frozen=True, slots=True)
class DonationSeen:
    """A settled donation as the organisation's public page shows it."""

    donor: str | None  # None: the donor chose to stay anonymous
    amount: Money | None  # None: the donor's privacy keeps the amount out of public view
    message: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class TaxReceipt:
    id: str
    organisation_id: str
    year: int
    number: int
    intent_id: str
    donor_member_id: str
    donor_name: str
    donor_address: str
    org_legal_name: str
    org_address: str
    org_registry_id: str
    org_purpose: str
    amount: Money
    donated_at: datetime
    issued_at: datetime
    form: str = FORM
    nature: str = NATURE
    payment_mode: str = PAYMENT_MODE
    legal_article: str = ARTICLE_INDIVIDUAL
    cancels_id: str | None = None
    cancelled_at: datetime | None = None

    @property
    def reference(self) -> str:
        """The number printed on the receipt: year and sequence, per organisation."""
        return f"{self.year}-{self.number:06d}"

    @property
    def amount_in_words(self) -> str:
        return amount_in_french_words(self.amount)


def amount_in_french_words(amount: Money) -> str:
    """``10,50 €`` -> "dix euros et cinquante centimes" (num2words)."""
    assert amount.currency == "EUR", amount.currency
    euros, cents = divmod(amount.minor, 100)
    words: str = num2words(euros, lang="fr") + (" euro" if euros < 2 else " euros")
    if cents:
        words += " et " + num2words(cents, lang="fr") + (" centime" if cents < 2 else " centimes")
    if euros == 0:
        words = words.removeprefix("zéro euro et ")
    return words


def receipt_year(when: datetime) -> int:
    """Receipts are numbered per calendar year in France (Paris time)."""
    return when.astimezone(PARIS).year


@dataclass(frozen=True, slots=True)
class FeeLine:
    """What one payee collected in a period, and the fees taken on it."""

    payee_id: str  # the organisation, or the pot's owner
    payee_name: str
    kind: str  # "donate", "pot"…
    count: int
    amount: Money
    fees: Money
