"""Mentions, hashtags, URLs and quotations found the way X's twitter-text finds them.

``extract_mentions`` and ``extract_hashtags`` follow twitter-text (no mention inside an
e-mail or URL, no hashtag glued to a word, ``#envoyerais`` is not ``#envoyer``), with one
deliberate difference: a handle is 1-15 characters, and a longer run is no mention at
all rather than its first characters. The scanners also report the near-misses
(``＠bob``, ``@bоb`` with a Cyrillic о) so the parser can refuse them instead of
paying whatever prefix twitter-text would have linked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AtToken",
    "HashToken",
    "extract_hashtags",
    "extract_mentions",
    "overlaps",
    "quote_spans",
    "scan_at_tokens",
    "scan_hashtags",
    "url_spans",
]

Span = tuple[int, int]

MAX_HANDLE = 15
_AT_SIGNS = "@＠"  # twitter-text's at signs
_ANY_AT = "@＠﹫"  # plus the small commercial at, which only ever imitates one
_HASH_SIGNS = "#＃"
_HANDLE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
# A character before the at sign that glues it to a word: "bob@example.com", "f!@kn".
_MENTION_BLOCKERS = _HANDLE_CHARS | frozenset("!#$%&*@＠")
_BEFORE_RT_BLOCKERS = _HANDLE_CHARS | frozenset("+~.-")
# twitter-text refuses a screen name followed by an accented Latin letter.
_LATIN_ACCENTS = re.compile(
    "[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259"
    "\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff]"
)
_LIST_SLUG = re.compile(r"/[a-zA-Z][a-zA-Z0-9_\-]{0,24}")
# twitter-text's hashtagSpecialChars: joiners, middle dots, Japanese marks, Hebrew
# punctuation and the like that may sit inside a hashtag.
_HASHTAG_SPECIALS = frozenset(
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003"
    "\u0f0b\u0f0c\u00b7"
)
_KEYCAP = frozenset("\ufe0f\u20e3")

# Scheme URLs and bare "domain.tld/path" ones; a bare domain without a path cannot
# hold an @ or a #, so it does not matter here.
_URL_STOP = r"\s<>\"“”«»"
_URL = re.compile(
    rf"(?:https?|ftp)://[^{_URL_STOP}]+"
    rf"|\bwww\.[^{_URL_STOP}]+"
    rf"|(?<![\w@.\-])(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{{2,63}}"
    rf"(?::[0-9]{{1,5}})?[/?#][^{_URL_STOP}]*"
)
# Opening quotation mark -> the marks that close it.
_QUOTES = {'"': '"', "“": "”", "«": "»", "„": "“”"}


@dataclass(frozen=True, slots=True)
class AtToken:
    """An at sign and the word characters glued after it (any script)."""

    start: int  # index of the at sign
    end: int
    sigil: str
    run: str
    mention: str | None  # the screen name twitter-text extracts here, if any

    @property
    def proper(self) -> bool:
        """A plain-ASCII ``@handle`` that is the whole word: safe to act on."""
        return self.sigil == "@" and self.mention is not None and self.mention == self.run

    @property
    def lookalike(self) -> bool:
        """Dressed as a mention but not one of ours: ``＠bob``, ``@bоb``, ``@ｂｏｂ``."""
        return not self.proper and (self.sigil != "@" or not self.run.isascii())


@dataclass(frozen=True, slots=True)
class HashToken:
    start: int  # index of the hash sign
    end: int
    sigil: str
    tag: str
    glued: bool  # a character that reads as part of the word follows: "#pot＿x", "#pot²"


def _is_hashtag_alpha(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _is_hashtag_alnum(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Nd" or char in _HASHTAG_SPECIALS


def _is_word_char(char: str) -> bool:
    """Could continue a handle to a reader's eye: letters, marks, digits of any script,
    and connector punctuation (``_`` and its fullwidth twin ``＿``)."""
    category = unicodedata.category(char)
    return category[0] in "LMN" or category == "Pc"


def _mention_may_start(text: str, at: int) -> bool:
    if at == 0 or text[at - 1] not in _MENTION_BLOCKERS:
        return True
    # A retweet marker may touch the at sign: "RT@bob".
    return (
        at >= 2
        and text[at - 2 : at].lower() == "rt"
        and (at == 2 or text[at - 3] not in _BEFORE_RT_BLOCKERS)
    )


def _screen_name(text: str, sigil: str, body_start: int, run: str) -> str | None:
    if sigil not in _AT_SIGNS:
        return None
    length = 0
    while length < len(run) and run[length] in _HANDLE_CHARS:
        length += 1
    if not 1 <= length <= MAX_HANDLE:
        return None
    after = body_start + length
    rest = text[after : after + 26]
    if rest[:1] and (rest[0] in _AT_SIGNS or _LATIN_ACCENTS.match(rest[0])):
        return None
    if rest.startswith("://") or _LIST_SLUG.match(rest):
        return None
    return run[:length]


def scan_at_tokens(text: str) -> list[AtToken]:
    """Every at sign that may start a mention, with what follows it."""
    tokens = []
    for at, sigil in enumerate(text):
        if sigil not in _ANY_AT or not _mention_may_start(text, at):
            continue
        end = at + 1
        while end < len(text) and _is_word_char(text[end]):
            end += 1
        run = text[at + 1 : end]
        if run:
            tokens.append(AtToken(at, end, sigil, run, _screen_name(text, sigil, at + 1, run)))
    return tokens


def scan_hashtags(text: str) -> list[HashToken]:
    """Hashtags by twitter-text's rules: after a boundary, letters/marks/digits with at
    least one letter, not followed by another hash sign or ``://``."""
    tokens = []
    for index, sigil in enumerate(text):
        if sigil not in _HASH_SIGNS:
            continue
        if index > 0:
            before = text[index - 1]
            if before not in _KEYCAP and (_is_hashtag_alnum(before) or before == "&"):
                continue
        end = index + 1
        if end < len(text) and text[end] in _KEYCAP:
            continue
        while end < len(text) and _is_hashtag_alnum(text[end]):
            end += 1
        tag = text[index + 1 : end]
        if not any(_is_hashtag_alpha(char) for char in tag):
            continue
        if text[end : end + 1] in ("#", "＃") or text.startswith("://", end):
            continue
        glued = end < len(text) and _is_word_char(text[end])
        tokens.append(HashToken(index, end, sigil, tag, glued))
    return tokens


def url_spans(text: str) -> list[Span]:
    return [match.span() for match in _URL.finditer(text)]


def quote_spans(text: str) -> list[Span]:
    """Quoted passages, marks included; an unclosed quotation runs to the end."""
    spans = []
    index = 0
    while index < len(text):
        closers = _QUOTES.get(text[index])
        if closers is None:
            index += 1
            continue
        close = next(
            (pos for pos in range(index + 1, len(text)) if text[pos] in closers), len(text)
        )
        spans.append((index, min(close + 1, len(text))))
        index = close + 1
    return spans


def overlaps(start: int, end: int, spans: Iterable[Span]) -> bool:
    return any(start < span_end and span_start < end for span_start, span_end in spans)


def extract_mentions(text: str) -> list[str]:
    """Screen names mentioned in ``text``, in order, without the at sign."""
    urls = url_spans(text)
    return [
        token.mention
        for token in scan_at_tokens(text)
        if token.mention is not None and not overlaps(token.start, token.end, urls)
    ]


def extract_hashtags(text: str) -> list[str]:
    """Hashtags in ``text``, in order, without the hash sign."""
    urls = url_spans(text)
    return [tag.tag for tag in scan_hashtags(text) if not overlaps(tag.start, tag.end, urls)]
