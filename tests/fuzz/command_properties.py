"""What must hold for any text the command parser reads; shared by the atheris target
(``atheris_commands.py``, ``make chaos``) and its seed check in ``test_command_seeds.py``.

Fuzz input bytes: the first byte chooses who writes and where (public post or DM to the
bot), the rest is the post, decoded as UTF-8 with lone surrogates let through
(``surrogatepass``) and anything else undecodable replaced.
"""

from __future__ import annotations

import re

from envoi.commands import DEFAULT_CEILING, ParseResult, parse
from envoi.domain.catalog_commands import PARSER_ERROR_CODES

BOT = "SmoneyFR"
AUTHORS = ("alice", "Bob_42", "smoneyfr", "x")
KINDS = {"send", "donate", "request", "pot", "invalid", "not_a_command"}
HANDLE = re.compile(r"[a-z0-9_]{1,15}")
# Zero-width and bidirectional controls: never inside a paying command (DESIGN §2).
HIDDEN = frozenset(
    chr(code)
    for low, high in ((0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2069), (0xFEFF, 0xFEFF))
    for code in range(low, high + 1)
)

SEEDS = [
    "@SmoneyFR #envoyer 5€ @bob",
    "@SmoneyFR #send €5,50 @bob",
    "@SmoneyFR #don 1 000 € @restos",
    "@SmoneyFR #demander 12.50 EUR @carol",
    "@SmoneyFR #cagnotte 20€ #AnnivJulie",
    "@alice @SmoneyFR #pay 5euros @bob",
    "#envoyer 5€ @bob",  # a DM when the first byte says so
    "RT @x: @SmoneyFR #envoyer 5€ @bob",
    "« @SmoneyFR #envoyer 5€ @bob »",
    "@SmoneyFR #envoyer 1,000€ @bob",
    "@SmoneyFR #envoyer 5\u200b€ @bob",
    "@SmoneyFR #envoyer ５€ @bob",
    "@SmoneyFR #envoyer 5€ @bob @carol",
    "@SmoneyFR #envoyer 100000,01€ @bob",
]


def decode(data: bytes) -> tuple[str, str, bool]:
    """(author, text, direct) from fuzz bytes."""
    flags = data[0] if data else 0
    author = AUTHORS[flags % len(AUTHORS)]
    direct = bool(flags & 0x80)
    try:
        text = data[1:].decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = data[1:].decode("utf-8", "replace")
    return author, text, direct


def encode(author_index: int, text: str, *, direct: bool = False) -> bytes:
    return bytes([author_index | (0x80 if direct else 0)]) + text.encode("utf-8", "surrogatepass")


def check(data: bytes) -> ParseResult:
    """Parse and assert every property; raises AssertionError on a violation."""
    author, text, direct = decode(data)
    result = parse(text, author=author, bot=BOT, direct=direct)
    assert result.kind in KINDS, result
    assert parse(text, author=author, bot=BOT, direct=direct) == result  # no hidden state
    if result.kind == "invalid":
        assert result.error in PARSER_ERROR_CODES, result
        assert result.amount is None, result
        assert result.payee is None, result
        return result
    assert result.error is None, result
    if not result.is_payment:
        assert result == ParseResult("not_a_command"), result
        return result
    # A payment: the safety rules of DESIGN §2 hold whatever the text.
    assert author.lower() != BOT.lower(), (author, result)  # the bot's own posts never pay
    assert result.amount is not None, result
    assert result.amount.currency == "EUR", result
    assert 0 < result.amount.minor <= DEFAULT_CEILING.minor, result
    assert not HIDDEN & set(text), (text, result)
    assert "#" in text, (text, result)
    if not direct:
        assert "@" + BOT.lower() in text.lower(), (text, result)
    if result.kind == "pot":
        assert result.pot, result
        assert result.payee is None, result
    else:
        assert result.payee is not None, result
        assert HANDLE.fullmatch(result.payee), result
        assert result.payee not in (BOT.lower(), author.lower()), result
        assert "@" + result.payee in text.lower(), (text, result)
    return result
