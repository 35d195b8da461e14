"""Names shown to a payer and e-mail addresses: no invisible characters, one script."""

from __future__ import annotations

import pytest

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.names import is_mixed_script, name_problem, normalise_email


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("\u0412ob Durand", "mixed_scripts"),  # Cyrillic В
        ("Bob Durand \u0412", "mixed_scripts"),  # a Cyrillic word apart still mixes
        ("Bob\u200b Durand", "invisible"),  # zero-width space
        ("Bob\u200b Durand \u0412", "invisible"),  # the audit's example
        ("B\u043eb", "mixed_scripts"),  # Cyrillic о
        ("\u0391lice", "mixed_scripts"),  # Greek Alpha
        ("Alice\u202e", "invisible"),  # right-to-left override
        ("Alice\u2066", "invisible"),  # isolate
        ("Al\u00adice", "invisible"),  # soft hyphen (Cf)
        ("Al\u3164ice", "invisible"),  # Hangul filler, a blank "letter"
        ("Alice\x07", "invisible"),
        ("Alice\U000e0041", "invisible"),  # tag character
    ],
)
def test_disguised_names_are_refused(name: str, problem: str) -> None:
    assert name_problem(name) == problem


@pytest.mark.parametrize(
    "name",
    [
        "Bob Durand",
        "Zo\u00eb Dupr\u00e9",
        "Zoe\u0301",  # a combining accent counts as its precomposed letter
        "Jean-Luc O'Neil",
        "Nguy\u1ec5n V\u0103n An",
        "\u0130smail \u00d6zt\u00fcrk",
        "\u0411\u043e\u0440\u0438\u0441 \u0418\u0432\u0430\u043d\u043e\u0432",  # all Cyrillic
        "\u1f08\u03bb\u03ad\u03be\u03b1\u03bd\u03b4\u03c1\u03bf\u03c2",  # all Greek
        "\u5c71\u7530 \u592a\u90ce Taro",  # Han + Latin, as Japanese is written
        "\u6771\u4eac\u30b9\u30ab\u30a4\u30c4\u30ea\u30fc",  # Han + Katakana
        "\uae40\ubbfc\uc900 Kim",  # Hangul + Latin
        "Ren\u00e9e \U0001f600 2026",  # emoji and digits are common to all scripts
    ],
)
def test_real_names_pass(name: str) -> None:
    assert name_problem(name) is None


def test_greek_with_latin_is_mixed_but_japanese_is_not() -> None:
    assert is_mixed_script("Alpha \u03a9mega")
    assert not is_mixed_script("\u3072\u3089\u304c\u306a \u6f22\u5b57 Latin")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Alice@Example.ORG", "alice@example.org"),
        ("  o'neil+tag@mail.co.uk ", "o'neil+tag@mail.co.uk"),
        ("bob@m\u00fcnchen.de", "bob@xn--mnchen-3ya.de"),
        ("bob@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "bob@xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_emails_are_stored_in_one_ascii_form(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        ("\u0430lice@example.org", "local_not_ascii"),  # Cyrillic а
        ("al\u00efce@example.org", "local_not_ascii"),
        ("alice@ex\u0430mple.org", "mixed_scripts"),  # one label mixes scripts
        ("alice@exa\u200bmple.org", "mixed_scripts"),  # an invisible one
        ("alice@example", "format"),
        ("a b@example.org", "format"),
        ("a..b@example.org", "format"),
        ("@example.org", "format"),
        ("alice", "format"),
    ],
)
def test_lookalike_and_malformed_emails_are_refused(email: str, problem: str) -> None:
    with pytest.raises(EnvoiError) as refused:
        normalise_email(email)
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    assert refused.value.params == {"reason": "email", "problem": problem}
