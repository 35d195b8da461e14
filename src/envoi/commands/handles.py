"""How each network writes a person: ``@bob`` (X, sandbox), ``@bob:example.org`` (Matrix),
``@bob.bsky.social`` (Bluesky), ``@bob@instance.social`` (Mastodon).

The command language is the same everywhere; only the payee's spelling changes. X keeps
the twitter-text rules of ``extract``. The other networks' ids are long and fully
qualified, so a token is everything glued after the at sign, less trailing punctuation,
and it names someone only if the whole of it is a well-formed id: ``@bob`` on Matrix or
``@bob:exämple.org`` is never read as a shorter id that would pay somebody else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envoi.commands.extract import AtToken, scan_at_tokens

__all__ = ["BLUESKY", "GRAMMARS", "MASTODON", "MATRIX", "Grammar", "X", "grammar_for"]

# What ends a fully qualified id in running text (besides white space).
_STOPS = frozenset(",;!?()[]{}<>\"'«»“”‘’…|\\*`")
# Dropped from a token's end: "paie @bob:example.org." or "@bob.bsky.social:".
_TRAILING = ".:-/"
_AT_SIGNS = "@＠﹫"
# A character before the at sign that glues it to a word (an e-mail, "x@y").
_GLUE = re.compile(r"[\w@＠﹫.\-+/=]")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*\.[A-Za-z][A-Za-z0-9-]{{0,61}}[A-Za-z0-9]"
# Matrix user id, spec "User Identifiers": lowercase localpart grammar, a server name
# (DNS name or IPv4, optional port), 255 characters at most with the at sign.
_MATRIX = re.compile(rf"[a-z0-9._=\-/+]+:{_HOSTNAME}(?::[0-9]{{1,5}})?")
# AT Protocol handle: a domain name of two labels or more, the last one not numeric.
_BLUESKY = re.compile(_DOMAIN)
# Mastodon account: a local username, or "username@domain" for a remote one.
_MASTODON = re.compile(rf"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{{0,28}}[A-Za-z0-9_])?(?:@{_DOMAIN})?")
_X = re.compile(r"[A-Za-z0-9_]{1,15}")


@dataclass(frozen=True, slots=True)
class Grammar:
    """One network's way of writing a person, and how two spellings compare."""

    name: str
    handle: re.Pattern[str]
    max_length: int
    twitter_text: bool = False  # X and the sandbox: twitter-text's mention rules
    case_sensitive_local: bool = False  # Matrix localparts: "@Bob:x" is not "@bob:x"

    def is_handle(self, handle: str) -> bool:
        handle = handle.removeprefix("@")
        return len(handle) <= self.max_length and self.handle.fullmatch(handle) is not None

    def key(self, handle: str) -> str:
        """What two spellings of the same person share (for comparisons, never shown)."""
        handle = handle.strip().removeprefix("@")
        if self.case_sensitive_local and ":" in handle:
            local, server = handle.split(":", 1)
            return f"{local}:{server.lower()}"
        return handle.lower()

    def scan(self, text: str) -> list[AtToken]:
        """Every at sign that may start a mention, with the id written after it."""
        if self.twitter_text:
            return scan_at_tokens(text)
        tokens: list[AtToken] = []
        index = 0
        while index < len(text):
            sigil = text[index]
            if sigil not in _AT_SIGNS or (index > 0 and _GLUE.match(text[index - 1])):
                index += 1
                continue
            end = index + 1
            while end < len(text) and not text[end].isspace() and text[end] not in _STOPS:
                end += 1
            while end > index + 1 and text[end - 1] in _TRAILING:
                end -= 1
            run = text[index + 1 : end]
            if run:
                well_formed = sigil == "@" and run.isascii() and self.is_handle(run)
                tokens.append(AtToken(index, end, sigil, run, run if well_formed else None))
            index = max(end, index + 1)
        return tokens


X = Grammar("x", _X, 15, twitter_text=True)
MATRIX = Grammar("matrix", _MATRIX, 254, case_sensitive_local=True)
BLUESKY = Grammar("bluesky", _BLUESKY, 253)
MASTODON = Grammar("mastodon", _MASTODON, 300)

GRAMMARS: dict[str, Grammar] = {g.name: g for g in (X, MATRIX, BLUESKY, MASTODON)}


def grammar_for(name: str) -> Grammar:
    """The grammar by name ("x" also serves the sandbox); ValueError for an unknown one."""
    try:
        return GRAMMARS[name]
    except KeyError:
        raise ValueError(f"no handle grammar {name!r}") from None
