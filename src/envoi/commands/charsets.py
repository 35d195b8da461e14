"""Character classes the parser relies on: invisible controls, look-alikes, spaces.

A payment command is short and made of ASCII plus a few known extras (``€``, NBSP);
anything else inside an amount or a handle is treated as an attempt to mislead.
"""

from __future__ import annotations

import unicodedata
from functools import cache

__all__ = [
    "ALLOWED_AMOUNT_SPACES",
    "LINE_BREAKS",
    "SIGNS",
    "first_hidden",
    "is_confusable",
    "is_hidden",
    "is_horizontal_space",
    "skeleton",
    "strip_hidden",
]

# Invisible characters that change what a reader sees or how text is laid out.
# Every format control (category Cf: zero-width, bidi, word joiner, BOM, tags…) counts,
# plus the ranges of the spec listed explicitly (U+2065 is unassigned, not Cf) and the
# blank "letters" used to forge invisible handles.
_HIDDEN_RANGES = ((0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2069), (0xFEFF, 0xFEFF))
_HIDDEN_EXTRA = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")

# Spaces the spec accepts inside an amount ("1 000 €", "5\u00a0€", "5\u202f€").
ALLOWED_AMOUNT_SPACES = frozenset(" \u00a0\u202f")

# str.splitlines() boundaries: an amount never spans lines.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

# Anything that reads as a plus or minus in front of a number.
SIGNS = frozenset("+-±\u2010\u2011\u2012\u2013\u2014\u2212\ufe62\ufe63\uff0b\uff0d")

# Scripts and blocks whose letters pass for ASCII at a glance.
_CONFUSABLE_BLOCKS = (
    (0x0180, 0x024F),  # Latin Extended-B (ƽ, ɑ…)
    (0x0250, 0x02FF),  # IPA extensions, spacing modifier letters
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x052F),  # Cyrillic and supplement
    (0x0530, 0x058F),  # Armenian
    (0x13A0, 0x13FF),  # Cherokee
    (0x1C80, 0x1C8F),  # Cyrillic Extended-C
    (0x1D00, 0x1DBF),  # phonetic extensions (small capitals)
    (0x1F00, 0x1FFF),  # Greek extended
    (0x2100, 0x218F),  # letterlike symbols, number forms
    (0x2460, 0x24FF),  # enclosed alphanumerics
    (0x2C60, 0x2C7F),  # Latin Extended-C
    (0x2DE0, 0x2DFF),  # Cyrillic Extended-A
    (0xA640, 0xA69F),  # Cyrillic Extended-B
    (0xA720, 0xA7FF),  # Latin Extended-D
    (0xAB30, 0xABBF),  # Latin Extended-E, Cherokee supplement
)
_CONFUSABLE_LATIN = frozenset("\u0131\u0138\u017f")  # ı ĸ ſ

# Look-alike -> the ASCII (or €) it imitates. Only needs to cover what can forge a
# currency marker; handles and pot names are refused on any confusable character.
_TO_ASCII = {
    **dict.fromkeys("АΑᎪ", "A"),
    **dict.fromkeys("аɑα", "a"),
    **dict.fromkeys("ВΒ", "B"),
    **dict.fromkeys("СϹᏟ", "C"),
    **dict.fromkeys("сϲᴄ", "c"),
    **dict.fromkeys("ЕΕᎬ", "E"),
    **dict.fromkeys("еєᴇ℮", "e"),
    **dict.fromkeys("НΗ", "H"),
    **dict.fromkeys("ІΙ", "I"),
    **dict.fromkeys("іıɩι", "i"),
    **dict.fromkeys("КΚ", "K"),
    **dict.fromkeys("МΜ", "M"),
    **dict.fromkeys("ΝՈ", "N"),
    **dict.fromkeys("ОΟՕ", "O"),
    **dict.fromkeys("оοօᴏ", "o"),
    **dict.fromkeys("РΡ", "P"),
    **dict.fromkeys("рρ", "p"),
    **dict.fromkeys("ᏒƦ", "R"),
    **dict.fromkeys("гʀ", "r"),
    **dict.fromkeys("ЅՏᏚ", "S"),
    **dict.fromkeys("ѕſꜱ", "s"),
    **dict.fromkeys("ТΤ", "T"),
    **dict.fromkeys("ՍᑌᏌ", "U"),
    **dict.fromkeys("սυᴜ", "u"),
    **dict.fromkeys("ХΧ", "X"),
    **dict.fromkeys("хχ", "x"),
    **dict.fromkeys("УΥҮ", "Y"),
    **dict.fromkeys("уү", "y"),
    **dict.fromkeys("Єϵ₠", "€"),
}


def is_hidden(char: str) -> bool:
    """Zero-width, bidirectional or other invisible control character."""
    code = ord(char)
    if any(low <= code <= high for low, high in _HIDDEN_RANGES):
        return True
    return char in _HIDDEN_EXTRA or unicodedata.category(char) == "Cf"


def first_hidden(text: str) -> int | None:
    """Index of the first invisible character in ``text``, if any."""
    for index, char in enumerate(text):
        if not char.isascii() and is_hidden(char):
            return index
    return None


def strip_hidden(text: str) -> str:
    return "".join(char for char in text if char.isascii() or not is_hidden(char))


def is_horizontal_space(char: str) -> bool:
    return char.isspace() and char not in LINE_BREAKS


@cache
def is_confusable(char: str) -> bool:
    """True for characters that imitate ASCII: fullwidth and other compatibility forms,
    Cyrillic, Greek, Armenian, Cherokee, small capitals, non-ASCII digits…"""
    if char.isascii():
        return False
    if unicodedata.normalize("NFKC", char) != char:
        return True
    if char in _CONFUSABLE_LATIN or unicodedata.category(char) in ("Nd", "No"):
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _CONFUSABLE_BLOCKS)


def skeleton(text: str) -> str:
    """What ``text`` looks like: compatibility forms folded, known look-alikes mapped to
    the ASCII they imitate. Used to recognise a forged ``€``/``EUR``, never to accept one."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(_TO_ASCII.get(char, char) for char in folded)
