"""Properties of the parser over generated posts: it never raises, never pays a bad
amount, and hidden or look-alike characters never let a payment through."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from hypothesis import assume, given
from hypothesis import strategies as st

from envoi.commands import COMMAND_HASHTAGS, DEFAULT_CEILING, ParseResult, parse
from envoi.domain.catalog_commands import PARSER_ERROR_CODES
from envoi.domain.errors import ErrorCode
from envoi.money import Money

BOT = "SmoneyFR"
AUTHOR = "alice"
HANDLE_RE = re.compile(r"[a-z0-9_]{1,15}")

HANDLES = st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True).filter(
    lambda handle: handle.lower() not in (BOT.lower(), AUTHOR)
)
POT_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda name: name.lower() not in COMMAND_HASHTAGS
)

# Zero-width and bidirectional controls of DESIGN §2.
HIDDEN = [
    chr(code)
    for low, high in ((0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2069), (0xFEFF, 0xFEFF))
    for code in range(low, high + 1)
]

# What each character may be forged with: fullwidth forms, Cyrillic, Greek, Armenian,
# other digits and separators. Kept here, apart from the parser's own tables.
LOOKALIKES: dict[str, str] = {
    **{chr(code): chr(code + 0xFEE0) for code in range(0x21, 0x7F)},
    **{
        "a": "ａаα",
        "c": "ｃс",
        "e": "ｅе",
        "i": "ｉі",
        "o": "ｏоοօ",
        "p": "ｐрρ",
        "s": "ｓѕ",
        "u": "ｕυս",
        "x": "ｘхχ",
        "y": "ｙу",
        "A": "ＡАΑ",
        "B": "ＢВΒ",
        "C": "ＣС",
        "E": "ＥЕΕ",
        "H": "ＨНΗ",
        "K": "ＫКΚ",
        "M": "ＭМΜ",
        "O": "ＯОΟ",
        "P": "ＰРΡ",
        "T": "ＴТΤ",
        "X": "ＸХΧ",
        "€": "Є₠",
        ",": "，‚",
        ".": "．․",
        "@": "＠﹫",
        "#": "＃",
        "_": "＿",
        " ": "\u2009\u2007",
        "\u00a0": "\u2009\u2007",
        "\u202f": "\u2009\u2007",
    },
    **{str(d): f"{chr(0xFF10 + d)}{chr(0x1D7CE + d)}{chr(0x0660 + d)}" for d in range(10)},
}


def random_case(draw: st.DrawFn, word: str) -> str:
    return "".join(char.upper() if draw(st.booleans()) else char.lower() for char in word)


def _group(units: str, sep: str) -> str:
    head = len(units) % 3 or 3
    return sep.join([units[:head]] + [units[i : i + 3] for i in range(head, len(units), 3)])


@st.composite
def amounts(draw: st.DrawFn, max_minor: int = DEFAULT_CEILING.minor) -> tuple[str, int]:
    """A euro amount written any way the spec accepts, and its value in cents."""
    minor = draw(st.integers(1, max_minor))
    units, cents = divmod(minor, 100)
    decimal = draw(st.sampled_from([",", "."]))
    group = draw(st.sampled_from(["", " ", "\u00a0", "\u202f", "." if decimal == "," else ","]))
    number = _group(str(units), group) if group else str(units)
    # "1.000€" alone is ambiguous: with a dot or comma grouping, always write the cents.
    if cents or group in (".", ",") or draw(st.booleans()):
        short = cents % 10 == 0 and draw(st.booleans())
        number += decimal + (str(cents // 10) if short else f"{cents:02d}")
    space = draw(st.sampled_from(["", " ", "\u00a0", "\u202f"]))
    if draw(st.booleans()):
        marker = random_case(draw, draw(st.sampled_from(["€", "eur", "euro", "euros"])))
        return number + space + marker, minor
    marker = random_case(draw, draw(st.sampled_from(["€", "eur"])))
    return marker + space + number, minor


@dataclass(frozen=True)
class Command:
    pieces: tuple[str, ...]
    amount_at: int  # index of the amount in pieces
    target_at: int  # index of the payee mention or the pot hashtag
    sep: str
    expected: ParseResult

    @property
    def text(self) -> str:
        return self.sep.join(self.pieces)


@st.composite
def commands(draw: st.DrawFn, max_minor: int = DEFAULT_CEILING.minor) -> Command:
    tag = draw(st.sampled_from(sorted(COMMAND_HASHTAGS)))
    kind = COMMAND_HASHTAGS[tag]
    amount, minor = draw(amounts(max_minor))
    if kind == "pot":
        name = draw(POT_NAMES)
        target = "#" + name
        expected = ParseResult("pot", amount=Money(minor, "EUR"), pot=name)
    else:
        handle = draw(HANDLES)
        target = "@" + handle
        expected = ParseResult(kind, amount=Money(minor, "EUR"), payee=handle.lower())
    # Bot first, then the hashtag: a mention right after the bot would be reply context.
    rest = draw(st.permutations([amount, target]))
    pieces = ("@" + random_case(draw, BOT), "#" + random_case(draw, tag), *rest)
    sep = draw(st.sampled_from([" ", "  ", "\n", " \n "]))
    return Command(pieces, pieces.index(amount), pieces.index(target), sep, expected)


FRAGMENTS = [
    "@SmoneyFR", "@smoneyfr", "＠SmoneyFR", "#envoyer", "#ENVOYER", "#don", "#pot", "#cagnotte",
    "#AnnivJulie", "#еnvoyer", "@bob", "@alice", "@bоb", "5€", "€5", "5,50", "1,000€", "1 000",
    "EUR", "euros", "$", "-", "5", "0", "à", "RT", "\u200b", "\u202e", '"', "«", "»", "５",
    "https://x.com/@bob", "bob@example.com", "\n", ",", ".", "\u00a0", "\u2009",
]  # fmt: skip
POSTS = st.one_of(
    st.text(),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join),
    commands().map(lambda command: command.text),
)


def check_invariants(text: str, result: ParseResult, ceiling: Money = DEFAULT_CEILING) -> None:
    if result.is_payment:
        assert result.amount is not None
        assert result.amount.currency == "EUR"
        assert 0 < result.amount.minor <= ceiling.minor
        assert result.error is None
        assert result.position is None
        if result.kind == "pot":
            assert result.payee is None
            assert result.pot
        else:
            assert result.pot is None
            assert result.payee is not None
            assert HANDLE_RE.fullmatch(result.payee)
            assert result.payee not in (BOT.lower(), AUTHOR)
    elif result.kind == "invalid":
        assert result.error in PARSER_ERROR_CODES
        assert result.amount is None
        assert result.payee is None
        assert result.pot is None
        assert result.position is None or 0 <= result.position < len(text)
    else:
        assert result == ParseResult("not_a_command")


@given(POSTS, st.booleans())
def test_parse_never_raises_and_keeps_its_promises(text: str, direct: bool) -> None:
    check_invariants(text, parse(text, author=AUTHOR, bot=BOT, direct=direct))


@given(commands())
def test_generated_commands_read_as_written(command: Command) -> None:
    assert parse(command.text, author=AUTHOR, bot=BOT) == command.expected


@given(commands(max_minor=10 * DEFAULT_CEILING.minor), st.integers(1, DEFAULT_CEILING.minor))
def test_ceiling_is_never_exceeded(command: Command, ceiling_minor: int) -> None:
    ceiling = Money(ceiling_minor, "EUR")
    result = parse(command.text, author=AUTHOR, bot=BOT, ceiling=ceiling)
    check_invariants(command.text, result, ceiling)
    assert command.expected.amount is not None
    if command.expected.amount.minor <= ceiling_minor:
        assert result == command.expected
    else:
        assert result.error is ErrorCode.AMOUNT_TOO_LARGE


@given(commands(), st.sampled_from(HIDDEN), st.data())
def test_hidden_character_anywhere_refuses(
    command: Command, hidden: str, data: st.DataObject
) -> None:
    text = command.text
    at = data.draw(st.integers(0, len(text)))
    result = parse(text[:at] + hidden + text[at:], author=AUTHOR, bot=BOT)
    assert result == ParseResult("invalid", error=ErrorCode.HIDDEN_CHARACTERS, position=at)


@given(commands(), st.booleans(), st.data())
def test_lookalike_payee_or_amount_never_pays(
    command: Command, in_amount: bool, data: st.DataObject
) -> None:
    at = command.amount_at if in_amount else command.target_at
    piece = command.pieces[at]
    forgeable = [index for index, char in enumerate(piece) if char in LOOKALIKES]
    assume(forgeable)
    chosen = data.draw(st.sets(st.sampled_from(forgeable), min_size=1))
    forged = "".join(
        data.draw(st.sampled_from(LOOKALIKES[char])) if index in chosen else char
        for index, char in enumerate(piece)
    )
    pieces = (*command.pieces[:at], forged, *command.pieces[at + 1 :])
    result = parse(replace(command, pieces=pieces).text, author=AUTHOR, bot=BOT)
    assert result.kind == "invalid"


BOT_VARIANTS = st.sampled_from([BOT, BOT.lower(), BOT.upper(), "@" + BOT, "sMONEYfr"])


@given(POSTS, BOT_VARIANTS, BOT_VARIANTS, st.booleans())
def test_bot_handle_case_does_not_matter(text: str, bot_a: str, bot_b: str, direct: bool) -> None:
    assert parse(text, author=AUTHOR, bot=bot_a, direct=direct) == parse(
        text, author=AUTHOR, bot=bot_b, direct=direct
    )
