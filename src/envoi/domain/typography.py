"""French typography for the texts envoi writes: typographic apostrophes, no-break spaces
before ``:`` ``;`` ``?`` ``!``, and the article contractions French makes with names
("d’Alice", "aux Restos du Cœur"). Applied to our templates, never to what people wrote."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NBSP = "\u00a0"  # before a colon
NNBSP = "\u202f"  # narrow, before ; ? !

_VOWEL = re.compile(r"[AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆaeiouyàâäéèêëîïôöùûüœæ]")
_BEFORE_FIELD = re.compile(r"\b(de|à|que) \{(\w+)\}")


def punctuate(template: str) -> str:
    """Apostrophes and no-break spaces of a French template (its ``{fields}`` untouched)."""
    text = template.replace("'", "’")
    text = re.sub(r" :(?=\s|$)", NBSP + ":", text)
    return re.sub(r" ([;?!])", NNBSP + r"\1", text)


def contract(word: str, name: str) -> str:
    """``de``/``à``/``que`` before ``name``, contracted as French writes it."""
    article, _, rest = name.partition(" ")
    if rest and article in ("Les", "les") and word in ("de", "à"):
        return ("des " if word == "de" else "aux ") + rest
    if rest and article in ("Le", "le") and word in ("de", "à"):
        return ("du " if word == "de" else "au ") + rest
    if word in ("de", "que") and _VOWEL.match(name):
        return word[0] + ("’" if word == "de" else "u’") + name
    return f"{word} {name}"


def french(template: str, params: Mapping[str, Any]) -> str:
    """A French template made right for these parameters, still to be filled with them:
    ``à {payee}`` becomes ``aux Restos du Cœur`` when the payee is "Les Restos du Cœur",
    ``de {payer}`` becomes ``d’{payer}`` when the payer is Alice."""

    def contracted(match: re.Match[str]) -> str:
        word, field = match.group(1), match.group(2)
        value = params.get(field)
        if not isinstance(value, str) or not value:
            return match.group(0)
        # Filled in here, so escape the braces the later ``format`` would read.
        return contract(word, value).replace("{", "{{").replace("}", "}}")

    return _BEFORE_FIELD.sub(contracted, punctuate(template))
