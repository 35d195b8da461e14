"""Amounts: every way of writing euros that DESIGN §2 accepts, and every way it refuses."""

from __future__ import annotations

import pytest

from envoi.commands import ParseResult, parse
from envoi.commands.amount import read_number
from envoi.domain.errors import ErrorCode
from envoi.money import Money

E = ErrorCode


def amount_of(written: str) -> ParseResult:
    return parse(f"@SmoneyFR #envoyer {written} @bob", author="alice")


ACCEPTED = [
    ("5€", 500),
    ("€5", 500),
    ("5 €", 500),
    ("€ 5", 500),
    ("5,50 €", 550),
    ("5.50€", 550),
    ("5,5€", 550),
    ("5.5 €", 550),
    ("5 EUR", 500),
    ("5EUR", 500),
    ("5 eur", 500),
    ("5 Eur", 500),
    ("EUR 5", 500),
    ("EUR5", 500),
    ("eur 5,50", 550),
    ("5euros", 500),
    ("5 euros", 500),
    ("5 euro", 500),
    ("5 Euros", 500),
    ("5\u00a0€", 500),  # no-break space
    ("5\u202f€", 500),  # narrow no-break space
    ("€\u00a05", 500),
    ("1 000 €", 100_000),
    ("1\u202f000\u202f€", 100_000),
    ("1\u00a0000,50 €", 100_050),
    ("1.000,50€", 100_050),
    ("1,000.50€", 100_050),
    ("12 345,67 €", 1_234_567),
    ("10000€", 1_000_000),
    ("0,50€", 50),
    ("0.01€", 1),
    ("100 000 €", 10_000_000),  # the default ceiling itself
    ("(5€)", 500),
    ("5€.", 500),
    ("5€!", 500),
    ("*5€*", 500),
    ("5€❤️", 500),
]


@pytest.mark.parametrize(("written", "minor"), ACCEPTED)
def test_accepted_amounts(written: str, minor: int) -> None:
    assert amount_of(written) == ParseResult("send", amount=Money(minor, "EUR"), payee="bob")


REFUSED = [
    # a bare number is not an amount
    ("5", E.MISSING_AMOUNT),
    ("5,50", E.MISSING_AMOUNT),
    ("1 000", E.MISSING_AMOUNT),
    # ambiguous thousands separators
    ("1,000€", E.AMBIGUOUS_AMOUNT),
    ("1.000€", E.AMBIGUOUS_AMOUNT),
    ("1,500 €", E.AMBIGUOUS_AMOUNT),
    ("EUR 2.000", E.AMBIGUOUS_AMOUNT),
    # unreadable
    ("5,555€", E.INVALID_AMOUNT),
    ("1.234€", E.INVALID_AMOUNT),
    ("5€50", E.INVALID_AMOUNT),
    ("5 € 50", E.INVALID_AMOUNT),
    ("5€ 50", E.INVALID_AMOUNT),
    ("2 5€", E.INVALID_AMOUNT),
    ("5 10€", E.INVALID_AMOUNT),
    ("05€", E.INVALID_AMOUNT),
    (",50€", E.INVALID_AMOUNT),
    ("5,-€", E.INVALID_AMOUNT),
    ("5.€", E.INVALID_AMOUNT),
    ("1.000.50€", E.INVALID_AMOUNT),
    ("1.000 000€", E.INVALID_AMOUNT),
    ("euros 5", E.INVALID_AMOUNT),
    ("€5€", E.INVALID_AMOUNT),
    # ranges and lists
    ("5-10€", E.INVALID_AMOUNT),
    ("5 - 10 €", E.INVALID_AMOUNT),
    ("5–10 €", E.INVALID_AMOUNT),
    ("5 à 10€", E.INVALID_AMOUNT),
    ("5 a 10€", E.INVALID_AMOUNT),
    ("5 to 10 €", E.INVALID_AMOUNT),
    ("entre 5 et 10 €", E.INVALID_AMOUNT),
    ("5 ou 10€", E.INVALID_AMOUNT),
    ("5/10€", E.INVALID_AMOUNT),
    ("5~10€", E.INVALID_AMOUNT),
    ("2 x 5€", E.INVALID_AMOUNT),
    ("5, 10€", E.INVALID_AMOUNT),
    ("5€ - 10€", E.INVALID_AMOUNT),
    # exponents, multipliers, units, words
    ("5e3€", E.INVALID_AMOUNT),
    ("1e2 €", E.INVALID_AMOUNT),
    ("5E2 EUR", E.INVALID_AMOUNT),
    ("5k€", E.INVALID_AMOUNT),
    ("5K €", E.INVALID_AMOUNT),
    ("2M€", E.INVALID_AMOUNT),
    ("5€/mois", E.INVALID_AMOUNT),
    ("cinq euros", E.INVALID_AMOUNT),
    ("five €", E.INVALID_AMOUNT),
    ("50 centimes", E.INVALID_AMOUNT),
    ("50 cents", E.INVALID_AMOUNT),
    # zero
    ("0€", E.ZERO_AMOUNT),
    ("0,00 €", E.ZERO_AMOUNT),
    ("€0", E.ZERO_AMOUNT),
    ("0 EUR", E.ZERO_AMOUNT),
    # any sign
    ("-5€", E.SIGNED_AMOUNT),
    ("+5€", E.SIGNED_AMOUNT),
    ("−5€", E.SIGNED_AMOUNT),  # U+2212 minus
    ("-5 €", E.SIGNED_AMOUNT),
    ("€-5", E.SIGNED_AMOUNT),
    ("€ -5", E.SIGNED_AMOUNT),
    ("EUR -5", E.SIGNED_AMOUNT),
    ("-€5", E.SIGNED_AMOUNT),
    ("-€ 5", E.SIGNED_AMOUNT),
    ("±5€", E.SIGNED_AMOUNT),
    ("-0€", E.SIGNED_AMOUNT),
    # decimals
    ("5,555 5€", E.INVALID_AMOUNT),
    ("5,5555€", E.TOO_MANY_DECIMALS),
    ("5.123€", E.INVALID_AMOUNT),
    ("1 000,555 €", E.TOO_MANY_DECIMALS),
    ("1.000,555€", E.TOO_MANY_DECIMALS),
    ("0,001€", E.TOO_MANY_DECIMALS),
    ("1234,567€", E.TOO_MANY_DECIMALS),
    # the sanity ceiling
    ("100 000,01 €", E.AMOUNT_TOO_LARGE),
    ("1000000€", E.AMOUNT_TOO_LARGE),
    ("1.000.000€", E.AMOUNT_TOO_LARGE),
    ("1 000 000 €", E.AMOUNT_TOO_LARGE),
    ("9" * 5000 + "€", E.AMOUNT_TOO_LARGE),
    # other currencies
    ("5$", E.UNSUPPORTED_CURRENCY),
    ("$5", E.UNSUPPORTED_CURRENCY),
    ("5 USD", E.UNSUPPORTED_CURRENCY),
    ("usd 5", E.UNSUPPORTED_CURRENCY),
    ("£5", E.UNSUPPORTED_CURRENCY),
    ("5 £", E.UNSUPPORTED_CURRENCY),
    ("5 GBP", E.UNSUPPORTED_CURRENCY),
    ("5 dollars", E.UNSUPPORTED_CURRENCY),
    ("¥500", E.UNSUPPORTED_CURRENCY),
    ("5 CHF", E.UNSUPPORTED_CURRENCY),
    ("0.001₿", E.UNSUPPORTED_CURRENCY),
    ("5€$", E.INVALID_AMOUNT),
    # look-alike characters
    ("５€", E.LOOKALIKE_CHARACTERS),  # fullwidth digit
    ("５,５０€", E.LOOKALIKE_CHARACTERS),
    ("5，50€", E.LOOKALIKE_CHARACTERS),  # fullwidth comma
    ("5‚50€", E.LOOKALIKE_CHARACTERS),  # single low-9 quotation mark
    ("5\u2009€", E.LOOKALIKE_CHARACTERS),  # thin space
    ("1\u2007000 €", E.LOOKALIKE_CHARACTERS),  # figure space
    ("𝟓€", E.LOOKALIKE_CHARACTERS),  # mathematical bold digit
    ("⁵€", E.LOOKALIKE_CHARACTERS),  # superscript
    ("٥€", E.LOOKALIKE_CHARACTERS),  # Arabic-Indic digit
    ("5 ЕUR", E.LOOKALIKE_CHARACTERS),  # Cyrillic Е
    ("5 ΕUR", E.LOOKALIKE_CHARACTERS),  # Greek Ε
    ("5 ＥＵＲ", E.LOOKALIKE_CHARACTERS),
    ("5ЕUR", E.LOOKALIKE_CHARACTERS),
    ("5 еurоs", E.LOOKALIKE_CHARACTERS),
    ("5Є", E.LOOKALIKE_CHARACTERS),  # Cyrillic Ukrainian Ie
    ("5₠", E.LOOKALIKE_CHARACTERS),  # euro-currency sign
    ("5€é", E.LOOKALIKE_CHARACTERS),
    ("5 ＄", E.LOOKALIKE_CHARACTERS),
]


@pytest.mark.parametrize(("written", "code"), REFUSED)
def test_refused_amounts(written: str, code: ErrorCode) -> None:
    result = amount_of(written)
    assert (result.kind, result.error) == ("invalid", code)
    if code is not E.MISSING_AMOUNT:  # the reply points into what was written
        start = len("@SmoneyFR #envoyer ")
        assert result.position is not None
        assert start <= result.position < start + len(written)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("5", (None, "5", "")),
        ("0", (None, "0", "")),
        ("5,5", (None, "5", "5")),
        ("1 000", (None, "1000", "")),
        ("1.000.000", (None, "1000000", "")),
        ("1,000,000.25", (None, "1000000", "25")),
        ("1\u202f000,50", (None, "1000", "50")),
        ("1,000", (E.AMBIGUOUS_AMOUNT, "", "")),
        ("1,555", (E.INVALID_AMOUNT, "", "")),
        ("01", (E.INVALID_AMOUNT, "", "")),
        ("5,1234", (E.TOO_MANY_DECIMALS, "", "")),
    ],
)
def test_read_number(number: str, expected: tuple[ErrorCode | None, str, str]) -> None:
    assert read_number(number) == expected
