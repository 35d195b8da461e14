"""Every refusal the parser can give has a short reply in French and English that shows
the right syntax."""

from __future__ import annotations

import pytest

from envoi.domain.catalog_commands import (
    COMMAND_MESSAGES,
    PARSER_ERROR_CODES,
    SYNTAX_HELP,
    command_message,
)
from envoi.domain.errors import ErrorCode

PARSER_CODES = {
    ErrorCode.MULTIPLE_COMMANDS,
    ErrorCode.MISSING_PAYEE,
    ErrorCode.MULTIPLE_PAYEES,
    ErrorCode.PAYEE_IS_BOT,
    ErrorCode.SELF_PAYMENT,
    ErrorCode.MISSING_AMOUNT,
    ErrorCode.MULTIPLE_AMOUNTS,
    ErrorCode.AMBIGUOUS_AMOUNT,
    ErrorCode.INVALID_AMOUNT,
    ErrorCode.ZERO_AMOUNT,
    ErrorCode.SIGNED_AMOUNT,
    ErrorCode.TOO_MANY_DECIMALS,
    ErrorCode.AMOUNT_TOO_LARGE,
    ErrorCode.UNSUPPORTED_CURRENCY,
    ErrorCode.HIDDEN_CHARACTERS,
    ErrorCode.LOOKALIKE_CHARACTERS,
    ErrorCode.MISSING_POT,
    ErrorCode.MULTIPLE_POTS,
}
LONGEST_HANDLE = "A" * 15


def test_every_parser_code_has_a_message() -> None:
    assert set(COMMAND_MESSAGES) == PARSER_CODES == PARSER_ERROR_CODES


@pytest.mark.parametrize("code", sorted(PARSER_CODES))
@pytest.mark.parametrize("locale", ["fr", "en"])
def test_message_fits_a_reply_and_shows_the_syntax(code: ErrorCode, locale: str) -> None:
    text = COMMAND_MESSAGES[code][locale].format(bot=LONGEST_HANDLE)
    assert len(text) <= 280
    assert f"@{LONGEST_HANDLE} #" in text  # an example command
    assert "{" not in text
    assert "}" not in text


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_syntax_help(locale: str) -> None:
    text = SYNTAX_HELP[locale].format(bot=LONGEST_HANDLE)
    assert len(text) <= 280
    for kind in (("#envoyer", "#send"), ("#don", "#donate"), ("#cagnotte", "#pot")):
        assert kind[0 if locale == "fr" else 1] in text


def test_command_message_formats_and_falls_back_to_english() -> None:
    assert command_message(ErrorCode.MISSING_AMOUNT, "fr", "@SmoneyFR").startswith("Montant")
    assert "@SmoneyFR #send 5€ @recipient" in command_message(
        ErrorCode.MISSING_AMOUNT, "de", "SmoneyFR"
    )
