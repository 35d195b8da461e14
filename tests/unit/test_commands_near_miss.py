"""Near misses: posts that name the bot, an amount and a payee but no #command get the
syntax; they never become payments, and ordinary chatter is left alone."""

from __future__ import annotations

import pytest

from envoi.commands import looks_like_a_command, parse


@pytest.mark.parametrize(
    "text",
    [
        "@SmoneyFR envoyer 5€ @alice",
        "@smoneyfr send 5 EUR @alice",
        "hey @SmoneyFR pay @alice 12,50 €",
        "@SmoneyFR envoyer 1,000€ @alice",  # the amount is refused later, as a command would be
    ],
)
def test_near_misses(text: str) -> None:
    assert parse(text, author="bob").kind == "not_a_command"  # nothing is paid
    assert looks_like_a_command(text, author="bob")


@pytest.mark.parametrize(
    "text",
    [
        "@SmoneyFR #envoyer 5€ @alice",  # a command: parse answers it
        "@SmoneyFR envoyer @alice",  # no amount
        "@SmoneyFR 5€ merci",  # nobody to pay
        "envoyer 5€ @alice",  # the bot is not named
        "@alice @SmoneyFR 5€",  # only reply context
        "RT @carol: @SmoneyFR envoyer 5€ @alice",  # a repost
        '"@SmoneyFR envoyer 5€ @alice"',  # a quotation
        "@SmoneyFR envoyer 5€ @bob",  # the only person named is the author
        "@SmoneyFR envoyer 5\u200b€ @alice",  # hidden characters: never answered as a hint
    ],
)
def test_not_near_misses(text: str) -> None:
    assert not looks_like_a_command(text, author="bob")


def test_a_direct_message_needs_no_bot_mention() -> None:
    assert looks_like_a_command("envoyer 5€ @alice", author="bob", direct=True)
    assert not looks_like_a_command("envoyer 5€ @alice", author="bob")


def test_the_bot_itself_is_never_answered() -> None:
    assert not looks_like_a_command("@SmoneyFR envoyer 5€ @alice", author="SmoneyFR")
