"""Text shown to a payer must read as what it is: display names, pot titles, e-mails.

A payer decides whom to pay from a name. ``Вob Durand`` (a Cyrillic ``В``) or
``Bob\\u200b Durand`` look like Bob Durand and are someone else. Two rules:

* no invisible characters: controls, format characters (zero-width, bidi, BOM, tags),
  private use, surrogates, line or paragraph separators, and the blank "letters" used to
  forge invisible text (``envoi.commands.charsets.is_hidden``);
* one script per name, as Unicode TR39 §5.2 "Highly Restrictive" defines it: letters of a
  single script, or Latin with Han and Japanese kana, Han with Bopomofo, or Han with
  Hangul (how Japanese, Chinese and Korean are written). Common characters (digits,
  spaces, punctuation, emoji) and Inherited ones (combining accents) go with any script.
  The check is on the whole name, not per word: ``Bob Durand В`` mixes two scripts.

Script data comes from ``confusable_homoglyphs`` (Unicode Scripts.txt, kept up to date
on PyPI); the standard library has no script property. Names are NFC-normalised first,
so a letter with a combining accent counts as the one precomposed letter.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Final, Literal

import idna
from confusable_homoglyphs import categories

from envoi.commands.charsets import is_hidden
from envoi.domain.errors import EnvoiError, ErrorCode

NameProblem = Literal["invisible", "mixed_scripts"]

_NEUTRAL: Final = frozenset({"COMMON", "INHERITED"})
# TR39 "Highly Restrictive": besides a single script, these sets may be mixed.
_ALLOWED_MIXES: Final = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


@cache
def script_of(char: str) -> str:
    """The Unicode script of one character (``LATIN``, ``CYRILLIC``, ``COMMON``…)."""
    alias: str = categories.alias(char)
    return alias.upper()


def scripts(text: str) -> frozenset[str]:
    """The scripts of the letters in ``text``, neutral characters left out."""
    return frozenset(script_of(c) for c in text if not c.isascii() or c.isalpha()) - _NEUTRAL


def is_mixed_script(text: str) -> bool:
    found = scripts(unicodedata.normalize("NFC", text))
    if len(found) <= 1:
        return False
    return not any(found <= allowed for allowed in _ALLOWED_MIXES)


def has_invisible(text: str) -> bool:
    return any(
        unicodedata.category(c) in _INVISIBLE_CATEGORIES or (not c.isascii() and is_hidden(c))
        for c in text
    )


def name_problem(text: str) -> NameProblem | None:
    """Why ``text`` may not be shown to a payer as a name, or None when it may."""
    if has_invisible(text):
        return "invisible"
    if is_mixed_script(text):
        return "mixed_scripts"
    return None


# --- e-mail addresses -----------------------------------------------------------------

# The local part in plain ASCII (RFC 5322 dot-atom): a Cyrillic "а" in "аlice@" would
# make a second account that reads as Alice's. The domain may be written in Unicode: it is
# kept in its ASCII (IDNA, "xn--") form, each label in one script.
_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL: Final = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ASCII_DOMAIN: Final = re.compile(rf"(?:{_LABEL}\.)+[a-z][a-z0-9-]*[a-z0-9]")


def normalise_email(email: str) -> str:
    """The address as envoi stores it (lower case, domain in IDNA form).

    Raises ``VALIDATION_ERROR`` (``reason="email"``) with a ``problem``: ``format``,
    ``local_not_ascii``, ``mixed_scripts`` or ``idna``."""
    email = unicodedata.normalize("NFC", email.strip()).lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or len(local) > 64 or len(email) > 254:
        raise _bad_email("format")
    if not local.isascii():
        raise _bad_email("local_not_ascii")
    if not domain.isascii():
        if has_invisible(domain) or any(is_mixed_script(label) for label in domain.split(".")):
            raise _bad_email("mixed_scripts")
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise _bad_email("idna") from None
    if not _LOCAL.fullmatch(local) or len(domain) > 253 or not _ASCII_DOMAIN.fullmatch(domain):
        raise _bad_email("format")
    return f"{local}@{domain}"


def _bad_email(problem: str) -> EnvoiError:
    return EnvoiError(ErrorCode.VALIDATION_ERROR, reason="email", problem=problem)
