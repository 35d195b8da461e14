"""The command language of DESIGN §2, one example per rule: what pays, what is refused
(and why), what is not a command at all."""

from __future__ import annotations

from typing import Any

import pytest

from envoi.commands import DEFAULT_CEILING, ParseResult, parse
from envoi.domain.errors import ErrorCode
from envoi.money import Money

E = ErrorCode
IGNORED = ParseResult("not_a_command")


def send(minor: int, payee: str) -> ParseResult:
    return ParseResult("send", amount=Money(minor, "EUR"), payee=payee)


def donate(minor: int, payee: str) -> ParseResult:
    return ParseResult("donate", amount=Money(minor, "EUR"), payee=payee)


def request(minor: int, payee: str) -> ParseResult:
    return ParseResult("request", amount=Money(minor, "EUR"), payee=payee)


def pot(minor: int, name: str) -> ParseResult:
    return ParseResult("pot", amount=Money(minor, "EUR"), pot=name)


def read(text: str, **kwargs: Any) -> ParseResult:
    return parse(text, **{"author": "alice", **kwargs})


VALID = [
    # every command hashtag, any case
    ("@SmoneyFR #envoyer 5€ @bob", send(500, "bob")),
    ("@SmoneyFR #send 5€ @bob", send(500, "bob")),
    ("@SmoneyFR #pay 5€ @bob", send(500, "bob")),
    ("@smoneyfr #ENVOYER 5€ @Bob", send(500, "bob")),
    ("@SMONEYFR #Pay 5€ @BOB", send(500, "bob")),
    ("@SmoneyFR #don 10€ @RestosDuCoeur", donate(1000, "restosducoeur")),
    ("@SmoneyFR #donner 10€ @croixrouge", donate(1000, "croixrouge")),
    ("@SmoneyFR #Donate 10€ @unicef", donate(1000, "unicef")),
    ("@SmoneyFR #demander 5€ @bob", request(500, "bob")),
    ("@SmoneyFR #REQUEST 5€ @bob", request(500, "bob")),
    ("@SmoneyFR #cagnotte 20€ #AnnivJulie", pot(2000, "AnnivJulie")),
    ("@SmoneyFR #pot 20€ #AnnivJulie", pot(2000, "AnnivJulie")),
    # order and surrounding words do not matter
    ("#envoyer @SmoneyFR 5€ @bob", send(500, "bob")),
    ("@SmoneyFR #envoyer @bob 5€", send(500, "bob")),
    ("Merci pour hier ! @SmoneyFR #envoyer 12,50€ à @bob 🍕", send(1250, "bob")),
    ("@SmoneyFR: #envoyer 5€ @bob, merci !", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€ @bob pour les 2 pizzas", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€ @bob pour 2heures de ménage", send(500, "bob")),
    ("@SmoneyFR #envoyer @bob:5€", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€ @bob 2024", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€ @bob's", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€🍕 @bob", send(500, "bob")),
    ("@SmoneyFR\n#envoyer\n5€\n@bob", send(500, "bob")),
    # other hashtags are just words in a send
    ("@SmoneyFR #envoyer 5€ @bob #merci", send(500, "bob")),
    # the same payee twice is one payee
    ("@SmoneyFR #envoyer 5€ @bob merci @BOB", send(500, "bob")),
    # a run of mentions at the very start is reply context, never the payee
    ("@carol @dave @SmoneyFR #envoyer 5€ @bob", send(500, "bob")),
    ("  @carol @SmoneyFR #envoyer 5€ @bob", send(500, "bob")),
    # the bot named again besides a payee is never the payee
    ("@SmoneyFR #envoyer 5€ @bob @SmoneyFR", send(500, "bob")),
    # URLs, e-mail addresses and quotations hold no payee, amount or command
    ("@SmoneyFR #envoyer 5€ @bob https://x.com/@carol", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€ @bob https://shop.example/item/10€", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€ @bob (ou carol@example.com)", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€ @bob « @carol a dit #don 10€ »", send(500, "bob")),
    ('@SmoneyFR #envoyer 5€ @bob "merci @carol"', send(500, "bob")),
    # a pot names no payee: mentions are only words
    ("@SmoneyFR #cagnotte 20€ #AnnivJulie pour @julie", pot(2000, "AnnivJulie")),
    ("@SmoneyFR #cagnotte 20€ #AnnivJulie #annivjulie", pot(2000, "AnnivJulie")),
    ("@SmoneyFR #pot #AnnivChloé 20€", pot(2000, "AnnivChloé")),
    # a dash set apart by spaces is punctuation, not a sign
    ("@SmoneyFR #envoyer @bob - 5€", send(500, "bob")),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_commands(text: str, expected: ParseResult) -> None:
    result = read(text)
    assert result == expected
    assert result.is_payment


DIRECT = [
    # in a direct message the bot mention is not needed, and nothing is reply context
    ("#envoyer 5€ @bob", send(500, "bob")),
    ("@bob #envoyer 5€", send(500, "bob")),
    ("@SmoneyFR #envoyer 5€ @bob", send(500, "bob")),
    ("#cagnotte 20€ #AnnivJulie", pot(2000, "AnnivJulie")),
    ("#envoyer 5€ @SmoneyFR", ParseResult("invalid", error=E.PAYEE_IS_BOT, position=12)),
    ("5€ @bob", IGNORED),
    ("RT @carol: #envoyer 5€ @bob", IGNORED),
]


@pytest.mark.parametrize(("text", "expected"), DIRECT)
def test_direct_messages(text: str, expected: ParseResult) -> None:
    assert read(text, direct=True) == expected


NOT_COMMANDS = [
    "",
    "   ",
    "#envoyer 5€ @bob",  # no bot
    "@SmoneyFR 5€ @bob",  # no command hashtag
    "@SmoneyFR bonjour !",
    "@SmoneyFR #envoyerais 5€ @bob",  # another word
    "@SmoneyFR #envoyer_ 5€ @bob",
    "@SmoneyFR #envoyer5€ @bob",
    "@SmoneyFR abc#envoyer 5€ @bob",  # glued hashtag
    "@SmoneyFR#envoyer 5€ @bob",
    "@SmoneyFRbis #envoyer 5€ @bob",  # another account
    "contact x@SmoneyFR #envoyer 5€ @bob",  # an e-mail, not a mention
    "https://x.com/@SmoneyFR #envoyer 5€ @bob",  # inside a URL
    "@SmoneyFR https://x.com/#envoyer 5€ @bob",
    # reposts
    "RT @carol: @SmoneyFR #envoyer 5€ @bob",
    "rt @carol: @SmoneyFR #envoyer 5€ @bob",
    "Rt@carol: @SmoneyFR #envoyer 5€ @bob",
    "MT @carol: @SmoneyFR #envoyer 5€ @bob",
    "mt @SmoneyFR #envoyer 5€ @bob",
    "Excellent RT @carol @SmoneyFR #envoyer 5€ @bob",
    # quotations
    '"@SmoneyFR #envoyer 5€ @bob"',
    "“@SmoneyFR #envoyer 5€ @bob”",
    "«@SmoneyFR #envoyer 5€ @bob»",
    "« @SmoneyFR #envoyer 5€ @bob »",
    'Tapez "@SmoneyFR #envoyer 5€ @bob" pour payer',
    '@SmoneyFR "#envoyer" 5€ @bob',
    '"@SmoneyFR #envoyer 5€ @bob',  # never closed: quoted to the end
    # look-alike bot handles are not ours
    "＠SmoneyFR #envoyer 5€ @bob",
    "@ＳｍｏｎｅｙＦＲ #envoyer 5€ @bob",
    "@SmоneyFR #envoyer 5€ @bob",  # Cyrillic о
    "@SmoneyFRе #envoyer 5€ @bob",  # Cyrillic е glued on
    "﹫SmoneyFR #envoyer 5€ @bob",
    # look-alike command hashtags are not ours
    "@SmoneyFR ＃envoyer 5€ @bob",
    "@SmoneyFR #ｅｎｖｏｙｅｒ 5€ @bob",
    "@SmoneyFR #еnvoyer 5€ @bob",  # Cyrillic е
    "@SmoneyFR #envoyeг 5€ @bob",  # Cyrillic г
    "@SmoneyFR #envoyer＿ 5€ @bob",  # X would link "#envoyer"; the reader sees more
    "@SmoneyFR #envoyer² 5€ @bob",
    # hidden characters in something that is no command either way
    "bonjour\u200b tout le monde",
    "\u202e@SmoneyFR merci",
]


@pytest.mark.parametrize("text", NOT_COMMANDS)
def test_not_commands(text: str) -> None:
    assert read(text) == IGNORED


@pytest.mark.parametrize("author", ["SmoneyFR", "smoneyfr", "@SmoneyFR", " SMONEYFR "])
def test_posts_by_the_bot_itself_are_never_commands(author: str) -> None:
    assert parse("@SmoneyFR #envoyer 5€ @bob", author=author) == IGNORED


INVALID = [
    # two command hashtags
    ("@SmoneyFR #envoyer #don 5€ @bob", E.MULTIPLE_COMMANDS, 19),
    ("@SmoneyFR #send #pay 5€ @bob", E.MULTIPLE_COMMANDS, 16),
    ("@SmoneyFR #envoyer 5€ @bob #envoyer", E.MULTIPLE_COMMANDS, 27),
    ("@SmoneyFR #cagnotte #don 5€ #AnnivJulie", E.MULTIPLE_COMMANDS, 20),
    # not exactly one payee
    ("@SmoneyFR #envoyer 5€", E.MISSING_PAYEE, None),
    ("@bob @SmoneyFR #envoyer 5€", E.MISSING_PAYEE, None),
    ("@SmoneyFR @bob #envoyer 5€", E.MISSING_PAYEE, None),
    ("@SmoneyFR #envoyer 5€ bob@example.com", E.MISSING_PAYEE, None),
    ("@SmoneyFR #envoyer 5€ @abcdefghijklmnop", E.MISSING_PAYEE, None),
    ("@SmoneyFR #envoyer 5€ @bob/amis", E.MISSING_PAYEE, None),
    ('@SmoneyFR #envoyer 5€ "@bob"', E.MISSING_PAYEE, None),
    ("@SmoneyFR #envoyer 5€ @bob @carol", E.MULTIPLE_PAYEES, 27),
    ("@SmoneyFR #envoyer 5€ @bob et @Carol", E.MULTIPLE_PAYEES, 30),
    ("@SmoneyFR #don 5€ @bob @alice", E.MULTIPLE_PAYEES, 23),
    # the payee is the bot or the author
    ("@SmoneyFR #envoyer 5€ @SmoneyFR", E.PAYEE_IS_BOT, 22),
    ("@SmoneyFR #envoyer 5€ @smoneyfr", E.PAYEE_IS_BOT, 22),
    ("@SmoneyFR #envoyer 5€ @alice", E.SELF_PAYMENT, 22),
    ("@SmoneyFR #demander 5€ @ALICE", E.SELF_PAYMENT, 23),
    # not exactly one amount
    ("@SmoneyFR #envoyer 5 @bob", E.MISSING_AMOUNT, None),
    ("@SmoneyFR #envoyer @bob", E.MISSING_AMOUNT, None),
    ('@SmoneyFR #envoyer "5€" @bob', E.MISSING_AMOUNT, None),
    ("@SmoneyFR #envoyer 5€ @bob 10€", E.MULTIPLE_AMOUNTS, 27),
    ("@SmoneyFR #envoyer 5€ 10€ @bob", E.MULTIPLE_AMOUNTS, 19),
    ("@SmoneyFR #envoyer 5€ @bob et 3$ @carol", E.MULTIPLE_PAYEES, 33),
    ("@SmoneyFR #envoyer 5€ @bob, pas 3$", E.MULTIPLE_AMOUNTS, 32),
    ("@SmoneyFR #envoyer 5€ @bob et 50 centimes", E.MULTIPLE_AMOUNTS, 30),
    ("@SmoneyFR #envoyer cinq euros @bob", E.INVALID_AMOUNT, 24),
    # pots: exactly one other hashtag
    ("@SmoneyFR #cagnotte 20€", E.MISSING_POT, None),
    ("@SmoneyFR #pot 20€ @julie", E.MISSING_POT, None),
    ("@SmoneyFR #cagnotte 20€ #AnnivJulie #Noel", E.MULTIPLE_POTS, 36),
    # hidden characters anywhere in a command
    ("@SmoneyFR #envoyer 5€ @bob\u200b", E.HIDDEN_CHARACTERS, 26),
    ("\u202e@SmoneyFR #envoyer 5€ @bob", E.HIDDEN_CHARACTERS, 0),
    ("\ufeff@SmoneyFR #envoyer 5€ @bob", E.HIDDEN_CHARACTERS, 0),
    ("@SmoneyFR #envo\u200byer 5€ @bob", E.HIDDEN_CHARACTERS, 15),
    ("@Smoney\u2060FR #envoyer 5€ @bob", E.HIDDEN_CHARACTERS, 7),
    ("@SmoneyFR #envoyer 5\u200d€ @bob", E.HIDDEN_CHARACTERS, 20),
    ("@SmoneyFR #envoyer 5€ @b\u200cob", E.HIDDEN_CHARACTERS, 24),
    ("@SmoneyFR #envoyer 5€ @bob \u2066ok\u2069", E.HIDDEN_CHARACTERS, 27),
    ("@SmoneyFR #envoyer 5€ @bob \u00ad", E.HIDDEN_CHARACTERS, 27),
    ("@SmoneyFR #envoyer 5€ @\u3164", E.HIDDEN_CHARACTERS, 23),  # Hangul filler
    ('@SmoneyFR #envoyer 5€ @bob "\u200b"', E.HIDDEN_CHARACTERS, 28),
    # look-alike characters in the payee
    ("@SmoneyFR #envoyer 5€ ＠bob", E.LOOKALIKE_CHARACTERS, 22),
    ("@SmoneyFR #envoyer 5€ ﹫bob", E.LOOKALIKE_CHARACTERS, 22),
    ("@SmoneyFR #envoyer 5€ @bоb", E.LOOKALIKE_CHARACTERS, 22),  # Cyrillic о
    ("@SmoneyFR #envoyer 5€ @ЬоЬ", E.LOOKALIKE_CHARACTERS, 22),
    ("@SmoneyFR #envoyer 5€ @ｂｏｂ", E.LOOKALIKE_CHARACTERS, 22),
    ("@SmoneyFR #envoyer 5€ @bobα", E.LOOKALIKE_CHARACTERS, 22),  # Greek α glued on
    ("@SmoneyFR #envoyer 5€ @bob＿x", E.LOOKALIKE_CHARACTERS, 22),
    ("@SmoneyFR #envoyer 5€ @bobé", E.LOOKALIKE_CHARACTERS, 22),
    ("@SmoneyFR #envoyer 5€ @bob @bоb", E.LOOKALIKE_CHARACTERS, 27),
    # look-alike characters in the pot's hashtag
    ("@SmoneyFR #cagnotte 20€ ＃AnnivJulie", E.LOOKALIKE_CHARACTERS, 24),
    ("@SmoneyFR #cagnotte 20€ #АnnivJulie", E.LOOKALIKE_CHARACTERS, 24),  # Cyrillic А
    ("@SmoneyFR #cagnotte 20€ #ＡｎｎｉｖＪｕｌｉｅ", E.LOOKALIKE_CHARACTERS, 24),
    ("@SmoneyFR #cagnotte 20€ #Anniv２０２４", E.LOOKALIKE_CHARACTERS, 24),
    ("@SmoneyFR #cagnotte 20€ #Anniv＿Julie", E.LOOKALIKE_CHARACTERS, 24),  # X links "#Anniv"
    # look-alike characters in the amount
    ("@SmoneyFR #envoyer ５€ @bob", E.LOOKALIKE_CHARACTERS, 19),
    ("@SmoneyFR #envoyer 5 ЕUR @bob", E.LOOKALIKE_CHARACTERS, 19),
]


@pytest.mark.parametrize(("text", "code", "position"), INVALID)
def test_invalid_commands(text: str, code: ErrorCode, position: int | None) -> None:
    result = read(text)
    assert result == ParseResult("invalid", error=code, position=position)
    assert not result.is_payment


PRECEDENCE = [
    # hidden characters first, then two commands, then forged characters, then the rest
    ("@SmoneyFR #envoyer #don ５€ @bob @carol\u200b", E.HIDDEN_CHARACTERS),
    ("@SmoneyFR #envoyer #don ５€ @bob @carol", E.MULTIPLE_COMMANDS),
    ("@SmoneyFR #envoyer ５€ @bob @carol", E.LOOKALIKE_CHARACTERS),
    ("@SmoneyFR #envoyer 5€ @bоb @carol", E.LOOKALIKE_CHARACTERS),
    ("@SmoneyFR #envoyer 0€ @bob @carol", E.MULTIPLE_PAYEES),
    ("@SmoneyFR #envoyer 0€ @alice", E.SELF_PAYMENT),
    ("@SmoneyFR #cagnotte #AnnivJulie #Noel 0€", E.MULTIPLE_POTS),
]


@pytest.mark.parametrize(("text", "code"), PRECEDENCE)
def test_the_first_reason_wins(text: str, code: ErrorCode) -> None:
    assert read(text).error is code


def test_bot_handle_is_configurable() -> None:
    assert read("@PayBot #send 5€ @bob", bot="PayBot") == send(500, "bob")
    assert read("@paybot #send 5€ @bob", bot="@PAYBOT") == send(500, "bob")
    assert read("@SmoneyFR #send 5€ @bob", bot="PayBot") == IGNORED
    assert read("@PayBot #send 5€ @SmoneyFR", bot="PayBot") == send(500, "smoneyfr")


def test_ceiling_is_configurable() -> None:
    assert read("@SmoneyFR #envoyer 100 000 € @bob") == send(DEFAULT_CEILING.minor, "bob")
    assert read("@SmoneyFR #envoyer 100 000,01 € @bob").error is E.AMOUNT_TOO_LARGE
    low = Money(250_00, "EUR")
    assert read("@SmoneyFR #envoyer 250€ @bob", ceiling=low) == send(250_00, "bob")
    assert read("@SmoneyFR #envoyer 250,01€ @bob", ceiling=low).error is E.AMOUNT_TOO_LARGE


@pytest.mark.parametrize("bot", ["", "@", "Smoney FR", "abcdefghijklmnop", "smoneyƒr"])
def test_a_malformed_bot_handle_is_a_configuration_error(bot: str) -> None:
    with pytest.raises(ValueError, match="handle"):
        parse("@SmoneyFR #envoyer 5€ @bob", author="alice", bot=bot)


def test_a_ceiling_in_another_currency_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="euros"):
        parse("@SmoneyFR #envoyer 5€ @bob", author="alice", ceiling=Money(100, "USD"))


def test_result_is_frozen() -> None:
    result = read("@SmoneyFR #envoyer 5€ @bob")
    with pytest.raises(AttributeError):
        result.kind = "invalid"  # type: ignore[misc]
