"""Euro amounts in a post: find every expression that looks like money, read at most one.

The text is cut into chunks at whitespace. Chunks holding digits or a currency marker,
separated only by spaces or by connectors ("à", "-", "ou"…), form one expression: so
"5 à 10€", "5€ 50" and "2 5€" are read as a whole and refused, never as "10€" or "5€".
An expression without any currency marker is a bare number and is not an amount.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from envoi.commands.charsets import (
    ALLOWED_AMOUNT_SPACES,
    LINE_BREAKS,
    SIGNS,
    skeleton,
)
from envoi.domain.errors import ErrorCode
from envoi.money import Money

__all__ = ["AmountFinding", "choose_amount", "find_amounts"]

Span = tuple[int, int]

_SP = "[ \u00a0\u202f]"
_NUM = "[0-9]+(?:[., \u00a0\u202f][0-9]+)*"
# re.ASCII keeps IGNORECASE from folding the Kelvin sign or the long s into ASCII.
_STRICT = re.compile(
    rf"(?:€|eur){_SP}*(?P<n1>{_NUM})|(?P<n2>{_NUM}){_SP}*(?:€|eur|euros?)", re.I | re.A
)
_SIGN_CLASS = "".join(sorted(SIGNS)).replace("-", r"\-")
_SIGN_AFTER_PREFIX = re.compile(rf"(?:€|eur){_SP}*[{_SIGN_CLASS}]", re.I | re.A)
_EURO_WORD = re.compile(r"€|eur|euros?", re.I | re.A)
_LETTERS = re.compile(r"[A-Za-z]+")
_NUMBER_PARTS = re.compile(r"([., \u00a0\u202f])")

# Other currencies: ISO codes as written in capitals, and unmistakable words.
_ISO_CODES = (
    "USD GBP CHF JPY CAD AUD CNY HKD SGD NZD ZAR KRW INR BRL MXN RUB TRY SEK NOK DKK PLN "
    "CZK HUF RON XOF XAF MAD DZD TND BTC ETH USDT USDC"
)
_CURRENCY_WORDS = (
    "usd gbp chf jpy btc dollar dollars pound pounds sterling yen yuan franc francs bitcoin "
    "bitcoins"
)
_FOREIGN_CODES = frozenset(_ISO_CODES.split())
_FOREIGN_WORDS = frozenset(_CURRENCY_WORDS.split())
# Sub-units are not accepted either: "50 centimes" must be written 0,50 €.
_SUBUNIT_WORDS = frozenset(("cent", "cents", "centime", "centimes", "cts"))
_CONNECTOR_WORDS = frozenset(("à", "a", "au", "aux", "to", "ou", "or", "et", "and", "plus", "x"))
_CONNECTOR_PUNCT = frozenset("-–—~/+&×*=,.;:|") | SIGNS
# Never a leading "," or ".": ",50€" must stay unreadable, not become 50 €.
_LEADING_PUNCT = "([{\"'«“‘„‹¿¡*_:"
_TRAILING_PUNCT = ")]}\"'»”’›.,;:!?…*_"

_MAX_DIGITS = 15  # far above any ceiling; keeps int() away from huge digit strings

EURO, FOREIGN, OTHER = "euro", "foreign", "other"
NUMBER, MARKER, CONNECTOR, WORD = "number", "marker", "connector", "word"


@dataclass(frozen=True, slots=True)
class AmountFinding:
    """One money-looking expression and what it reads as."""

    start: int
    end: int
    numeric: bool  # carries digits; without them it is an amount in words ("cinq euros")
    money: Money | None
    error: ErrorCode | None


@dataclass(frozen=True, slots=True)
class _Chunk:
    start: int  # core, once surrounding punctuation is set aside
    end: int
    kind: str
    markers: frozenset[str]
    joined: bool  # only horizontal space since the previous chunk
    gap: str


def _is_currency_symbol(char: str) -> bool:
    return unicodedata.category(char) == "Sc" and char != "€"


def _markers(core: str) -> frozenset[str]:
    """Currency markers inside a chunk with digits: "5€", "EUR5", "5k€", "5USD"."""
    skel = skeleton(core)
    found = set()
    words = _LETTERS.findall(skel)
    # Whole words only: "2heures" holds no euro.
    if "€" in skel or any(_EURO_WORD.fullmatch(word) for word in words):
        found.add(EURO)
    if any(_is_currency_symbol(char) for char in skel) or any(
        word in _FOREIGN_CODES or word.lower() in _FOREIGN_WORDS for word in words
    ):
        found.add(FOREIGN)
    if any(word.lower() in _SUBUNIT_WORDS for word in words):
        found.add(OTHER)
    return frozenset(found)


def _marker_kind(bare: str) -> str | None:
    """What a chunk without digits stands for, if it is a currency marker."""
    if _EURO_WORD.fullmatch(bare):
        return EURO
    if bare and all(_is_currency_symbol(char) for char in bare):
        return FOREIGN
    if bare in _FOREIGN_CODES or bare.lower() in _FOREIGN_WORDS:
        return FOREIGN
    return OTHER if bare.lower() in _SUBUNIT_WORDS else None


def _classify(core: str) -> tuple[str, frozenset[str]]:
    if any(unicodedata.category(char) in ("Nd", "No") for char in core):
        return NUMBER, _markers(core)
    if not core or all(char in _CONNECTOR_PUNCT for char in core):
        return CONNECTOR, frozenset()
    if core.lower() in _CONNECTOR_WORDS:
        return CONNECTOR, frozenset()
    marker = _marker_kind(skeleton(core.lstrip("".join(SIGNS))))
    return (WORD, frozenset()) if marker is None else (MARKER, frozenset({marker}))


def _edge(char: str, punctuation: str) -> bool:
    """Set aside around a chunk: punctuation, and emoji or symbols ("5€🍕", "5€❤️")."""
    if char in punctuation:
        return True
    return unicodedata.category(char) in ("So", "Sk") or "\ufe00" <= char <= "\ufe0f"


def _chunks(text: str, blocked: Sequence[Span]) -> list[_Chunk]:
    is_blocked = bytearray(len(text))
    for start, end in blocked:
        is_blocked[start:end] = b"\x01" * (end - start)
    chunks = []
    previous_end: int | None = None  # None after a line break or a blocked span
    index = 0
    while index < len(text):
        char = text[index]
        if is_blocked[index] or char in LINE_BREAKS:
            previous_end = None
            index += 1
            continue
        if char.isspace():
            index += 1
            continue
        end = index
        while end < len(text) and not is_blocked[end] and not text[end].isspace():
            end += 1
        core_start, core_end = index, end
        while core_start < core_end and _edge(text[core_start], _LEADING_PUNCT):
            core_start += 1
        while core_end > core_start and _edge(text[core_end - 1], _TRAILING_PUNCT):
            core_end -= 1
        kind, markers = _classify(text[core_start:core_end])
        gap = text[previous_end:index] if previous_end is not None else ""
        chunks.append(_Chunk(core_start, core_end, kind, markers, previous_end is not None, gap))
        previous_end = end
        index = end
    return chunks


def _groups(chunks: list[_Chunk]) -> list[list[_Chunk]]:
    """Runs of number/marker chunks; connectors count only between two of them."""
    groups: list[list[_Chunk]] = []
    current: list[_Chunk] = []
    pending: list[_Chunk] = []
    for chunk in chunks:
        if not chunk.joined or chunk.kind == WORD:
            if current:
                groups.append(current)
            current, pending = [], []
            if chunk.kind == WORD:
                continue
        if chunk.kind == CONNECTOR:
            if current:
                pending.append(chunk)
            continue
        current.extend(pending)
        pending = []
        current.append(chunk)
    if current:
        groups.append(current)
    return groups


def _suspicious(char: str) -> bool:
    """Not plain ASCII, not the euro sign, not an accepted space, not a sign, not a
    genuine foreign currency symbol (that one is unsupported, not forged)."""
    if char.isascii() or char == "€" or char in ALLOWED_AMOUNT_SPACES or char in SIGNS:
        return False
    return not (_is_currency_symbol(char) and skeleton(char) == char)


def _plain_int(digits: str) -> bool:
    return digits.isdigit() and (len(digits) == 1 or digits[0] != "0")


def _grouped_int(groups: list[str], seps: list[str]) -> bool:
    """``1000``, ``1 000``, ``1.000.000``: one separator kind, groups of three."""
    if not seps:
        return _plain_int(groups[0])
    return (
        len(set(seps)) == 1
        and 1 <= len(groups[0]) <= 3
        and groups[0][0] != "0"
        and all(len(group) == 3 for group in groups[1:])
    )


def read_number(number: str) -> tuple[ErrorCode | None, str, str]:
    """Split ASCII digits and separators into integer and decimal digits, or say why not."""
    parts = _NUMBER_PARTS.split(number)
    groups = parts[0::2]
    seps = [" " if sep in ALLOWED_AMOUNT_SPACES else sep for sep in parts[1::2]]
    last, tail = (seps[-1], groups[-1]) if seps else ("", "")
    head_groups, head_seps = groups[:-1], seps[:-1]
    error: ErrorCode | None = None
    units, cents = "".join(groups), ""
    if not seps or last == " " or (len(tail) == 3 and head_seps and set(head_seps) == {last}):
        # No decimals: spaces never mark them, and "1.000.000" repeats its separator.
        error = None if _grouped_int(groups, seps) else ErrorCode.INVALID_AMOUNT
    elif last in head_seps or not _grouped_int(head_groups, head_seps):
        error = ErrorCode.INVALID_AMOUNT
    elif len(tail) <= 2:
        units, cents = "".join(head_groups), tail
    elif len(tail) == 3 and not head_seps and _grouped_int(groups, [last]):
        # "1,000": one euro or a thousand? "5,555": neither reading is safe.
        error = ErrorCode.AMBIGUOUS_AMOUNT if tail.endswith("0") else ErrorCode.INVALID_AMOUNT
    else:
        error = ErrorCode.TOO_MANY_DECIMALS
    return (error, "", "") if error else (None, units, cents)


def _value(number: str, ceiling: Money) -> tuple[Money | None, ErrorCode | None]:
    error, units, cents = read_number(number)
    if error is not None:
        return None, error
    if len(units) > _MAX_DIGITS:
        return None, ErrorCode.AMOUNT_TOO_LARGE
    minor = int(units) * 100 + int(cents.ljust(2, "0"))
    if minor == 0:
        return None, ErrorCode.ZERO_AMOUNT
    if minor > ceiling.minor:
        return None, ErrorCode.AMOUNT_TOO_LARGE
    return Money(minor, "EUR"), None


def _refusal(group: list[_Chunk], text: str) -> ErrorCode | None:
    """Why a money-looking expression cannot be read as one amount, if it cannot."""
    markers = frozenset().union(*(chunk.markers for chunk in group))
    parts = [chunk for chunk in group if chunk.kind != CONNECTOR]
    cores = [text[chunk.start : chunk.end] for chunk in parts]
    gaps = "".join(chunk.gap for chunk in group[1:])
    # In order of priority: the first failed check names the refusal.
    checks = (
        # In words: "cinq euros".
        (not any(chunk.kind == NUMBER for chunk in group), ErrorCode.INVALID_AMOUNT),
        (any(_suspicious(char) for char in "".join(cores) + gaps), ErrorCode.LOOKALIKE_CHARACTERS),
        (FOREIGN in markers and EURO not in markers, ErrorCode.UNSUPPORTED_CURRENCY),
        (FOREIGN in markers or OTHER in markers, ErrorCode.INVALID_AMOUNT),
        (
            any(len(core) > 1 and core[0] in SIGNS for core in cores)
            or _SIGN_AFTER_PREFIX.match(text, group[0].start, group[-1].end) is not None,
            ErrorCode.SIGNED_AMOUNT,
        ),
        # A range or a list: "5 à 10€", "5 ou 10 €".
        (len(parts) != len(group), ErrorCode.INVALID_AMOUNT),
        (sum(1 for core in cores if _STRICT.fullmatch(core)) >= 2, ErrorCode.MULTIPLE_AMOUNTS),
    )
    return next((code for failed, code in checks if failed), None)


def _evaluate(group: list[_Chunk], text: str, ceiling: Money) -> AmountFinding | None:
    if not any(chunk.markers for chunk in group):
        return None  # a bare number is not an amount
    start, end = group[0].start, group[-1].end
    numeric = any(chunk.kind == NUMBER for chunk in group)
    error = _refusal(group, text)
    match = None if error else _STRICT.fullmatch(text, start, end)
    if match is None:
        return AmountFinding(start, end, numeric, None, error or ErrorCode.INVALID_AMOUNT)
    money, error = _value(match["n1"] or match["n2"], ceiling)
    return AmountFinding(start, end, numeric, money, error)


def find_amounts(text: str, blocked: Sequence[Span], ceiling: Money) -> list[AmountFinding]:
    """Every money-looking expression outside ``blocked`` spans (mentions, hashtags,
    URLs, quotations), in order."""
    findings = []
    for group in _groups(_chunks(text, blocked)):
        finding = _evaluate(group, text, ceiling)
        if finding is not None:
            findings.append(finding)
    return findings


def choose_amount(
    findings: Sequence[AmountFinding],
) -> tuple[Money | None, ErrorCode | None, int | None]:
    """The one amount of a command, or the reason there is not exactly one."""
    numeric = [finding for finding in findings if finding.numeric]
    for finding in numeric:
        if finding.error is ErrorCode.LOOKALIKE_CHARACTERS:
            return None, finding.error, finding.start
    if len(numeric) > 1:
        return None, ErrorCode.MULTIPLE_AMOUNTS, numeric[1].start
    if numeric:
        only = numeric[0]
        return only.money, only.error, only.start if only.error else None
    if findings:
        return None, ErrorCode.INVALID_AMOUNT, findings[0].start
    return None, ErrorCode.MISSING_AMOUNT, None
