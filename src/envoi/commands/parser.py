"""Post text -> what it asks for: a payment command, an invalid one (and why), or nothing.

Safety first: when in doubt, never pay. Every refusal carries a stable ``ErrorCode`` and
the index in the text it points at; replies are written elsewhere from that code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from envoi.commands.amount import choose_amount, find_amounts
from envoi.commands.charsets import first_hidden, is_confusable, strip_hidden
from envoi.commands.extract import (
    AtToken,
    HashToken,
    overlaps,
    quote_spans,
    scan_hashtags,
    url_spans,
)
from envoi.commands.handles import Grammar, X
from envoi.domain.errors import ErrorCode
from envoi.money import Money

__all__ = [
    "COMMAND_HASHTAGS",
    "DEFAULT_CEILING",
    "Kind",
    "ParseResult",
    "looks_like_a_command",
    "parse",
]

Kind = Literal["send", "donate", "request", "pot", "invalid", "not_a_command"]
PaymentKind = Literal["send", "donate", "request", "pot"]

DEFAULT_CEILING = Money(100_000_00, "EUR")

COMMAND_HASHTAGS: dict[str, PaymentKind] = {
    "envoyer": "send",
    "send": "send",
    "pay": "send",
    "don": "donate",
    "donner": "donate",
    "donate": "donate",
    "demander": "request",
    "request": "request",
    "cagnotte": "pot",
    "pot": "pot",
}

# A repost: "RT @x: …" or "MT …" at the start, or an "RT @x" quoted further on.
_REPOST = re.compile(r"^\s*(?:rt|mt)(?![A-Za-z0-9_])|(?<!\w)(?:rt|mt)\s*:?\s*[@＠]\w", re.I)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a post asks for. ``error`` and ``position`` are set only for ``invalid``."""

    kind: Kind
    amount: Money | None = None
    payee: str | None = None  # the handle's comparison key (``Grammar.key``), no at sign
    pot: str | None = None  # the pot's hashtag as written, no hash sign
    error: ErrorCode | None = None
    position: int | None = None

    @property
    def is_payment(self) -> bool:
        return self.kind in ("send", "donate", "request", "pot")


NOT_A_COMMAND = ParseResult("not_a_command")


def _invalid(code: ErrorCode, position: int | None) -> ParseResult:
    return ParseResult("invalid", error=code, position=position)


@dataclass(frozen=True, slots=True)
class _Frame:
    """A post that is a command: the pieces found outside quotations and URLs."""

    at_tokens: list[AtToken]
    hashtags: list[HashToken]
    commands: list[HashToken]
    bot_mentions: list[AtToken]
    blocked: list[tuple[int, int]]
    grammar: Grammar
    # Keys of the people the network itself says are mentioned (Matrix ``m.mentions``,
    # Bluesky facets): they count even when the text shows only a display name.
    mentioned: tuple[str, ...] = ()


def _frame(
    text: str, bot: str, direct: bool, grammar: Grammar, mentioned: tuple[str, ...]
) -> _Frame | None:
    """The command's pieces, or None when the post is not a command at all."""
    if _REPOST.search(text):
        return None
    blocked = quote_spans(text) + url_spans(text)
    at_tokens = [t for t in grammar.scan(text) if not overlaps(t.start, t.end, blocked)]
    hashtags = [h for h in scan_hashtags(text) if not overlaps(h.start, h.end, blocked)]
    # Ours only in plain ASCII: "#ｅnvoyer", "#еnvoyer" (Cyrillic е), "#envoyer＿" are not.
    commands = [
        h
        for h in hashtags
        if h.sigil == "#" and h.tag.isascii() and not h.glued and h.tag.lower() in COMMAND_HASHTAGS
    ]
    bots = [t for t in at_tokens if t.proper and grammar.key(t.run) == bot]
    if not commands or not (bots or direct or bot in mentioned):
        return None
    return _Frame(at_tokens, hashtags, commands, bots, blocked, grammar, mentioned)


def _reply_context(text: str, tokens: list[AtToken]) -> set[int]:
    """Indices of the mentions opening the post (``@alice @bob …``): who is replied to."""
    by_start = {token.start: index for index, token in enumerate(tokens)}
    run: set[int] = set()
    position = len(text) - len(text.lstrip())
    while position in by_start:
        index = by_start[position]
        run.add(index)
        end = tokens[index].end
        position = end + len(text[end:]) - len(text[end:].lstrip())
    return run


def _payee(
    text: str, frame: _Frame, *, bot: str, author: str, direct: bool
) -> tuple[str | None, ErrorCode | None, int | None]:
    """The one person named, once reply context and the bot's own mention are set aside."""
    skip = set() if direct else _reply_context(text, frame.at_tokens)
    first_command = frame.commands[0].start
    addressing = [t for t in frame.bot_mentions if t.start < first_command]
    if not addressing and not direct:
        addressing = frame.bot_mentions[:1]
    candidates = [
        token
        for index, token in enumerate(frame.at_tokens)
        if index not in skip and not any(token is bot_token for bot_token in addressing)
    ]
    for token in candidates:
        if token.lookalike:
            return None, ErrorCode.LOOKALIKE_CHARACTERS, token.start
    people, bot_named = _people(frame, candidates, bot)
    if len(people) > 1:
        return None, ErrorCode.MULTIPLE_PAYEES, list(people.values())[1]
    if not people:
        if bot_named is not None:
            return None, ErrorCode.PAYEE_IS_BOT, bot_named
        return None, ErrorCode.MISSING_PAYEE, None
    ((payee, position),) = people.items()
    if payee == author:
        return None, ErrorCode.SELF_PAYMENT, position
    return payee, None, None


def _people(
    frame: _Frame, candidates: list[AtToken], bot: str
) -> tuple[dict[str, int | None], int | None]:
    """The people named (key -> where), and where the bot is named as one of them."""
    people: dict[str, int | None] = {}
    bot_named: int | None = None
    for token in candidates:
        if not token.proper:
            continue  # too long to be a handle, an e-mail-like "@a@b", a list "@a/b"
        key = frame.grammar.key(token.run)
        if key == bot:
            bot_named = token.start if bot_named is None else bot_named
        else:
            people.setdefault(key, token.start)
    # Structured mentions beat display text: a pill shown as "Bob" still names
    # @bob:example.org. A typed id that disagrees with them makes two payees: refused.
    for key in frame.mentioned:
        if key != bot:
            people.setdefault(key, None)
    return people, bot_named


def _pot(frame: _Frame) -> tuple[str | None, ErrorCode | None, int | None]:
    """The one other hashtag of a pot command names the pot."""
    command = frame.commands[0]
    names: dict[str, HashToken] = {}
    for tag in frame.hashtags:
        if tag is command:
            continue
        if tag.sigil != "#" or tag.glued or any(is_confusable(char) for char in tag.tag):
            return None, ErrorCode.LOOKALIKE_CHARACTERS, tag.start
        names.setdefault(tag.tag.lower(), tag)
    if not names:
        return None, ErrorCode.MISSING_POT, None
    if len(names) > 1:
        return None, ErrorCode.MULTIPLE_POTS, list(names.values())[1].start
    (tag,) = names.values()
    return tag.tag, None, None


def _judge(
    text: str, frame: _Frame, *, bot: str, author: str, direct: bool, ceiling: Money
) -> ParseResult:
    """A command's verdict: the payment it asks for, or the first reason it cannot be."""
    if len(frame.commands) > 1:
        return _invalid(ErrorCode.MULTIPLE_COMMANDS, frame.commands[1].start)
    kind = COMMAND_HASHTAGS[frame.commands[0].tag.lower()]
    payee: str | None = None
    pot: str | None = None
    if kind == "pot":
        pot, target_error, target_at = _pot(frame)
    else:
        payee, target_error, target_at = _payee(text, frame, bot=bot, author=author, direct=direct)
    # Digits inside handles, hashtags, URLs and quotations are not amounts.
    blocked = frame.blocked + [(t.start, t.end) for t in frame.at_tokens]
    blocked += [(h.start, h.end) for h in frame.hashtags]
    amount, amount_error, amount_at = choose_amount(find_amounts(text, blocked, ceiling))
    # Forged characters first: they are the attack, anything else a consequence.
    refusals = (
        (target_error is ErrorCode.LOOKALIKE_CHARACTERS, target_error, target_at),
        (amount_error is ErrorCode.LOOKALIKE_CHARACTERS, amount_error, amount_at),
        (target_error is not None, target_error, target_at),
        (amount_error is not None, amount_error, amount_at),
    )
    for refused, code, position in refusals:
        if refused and code is not None:
            return _invalid(code, position)
    if amount is None:  # unreachable: choose_amount gives an amount or an error
        return _invalid(ErrorCode.MISSING_AMOUNT, None)
    return ParseResult(kind, amount=amount, payee=payee, pot=pot)


def parse(
    text: str,
    *,
    author: str,
    bot: str = "SmoneyFR",
    direct: bool = False,
    ceiling: Money = DEFAULT_CEILING,
    grammar: Grammar = X,
    mentioned: Sequence[str] = (),
) -> ParseResult:
    """Read a post (or a direct message to the bot, ``direct=True``) by ``author``.

    ``bot`` is the bot's handle (with or without the at sign) and ``author`` the
    author's, both as ``grammar`` (the network's) writes them; ``mentioned`` holds the
    handles the network itself marked as mentions, if it does (empty: the text alone
    decides). ``ceiling`` is the sanity ceiling above which an amount is refused
    (limits are checked later). Raises ``ValueError`` only for a malformed ``bot`` or a
    non-euro ``ceiling``.
    """
    if not grammar.is_handle(bot.strip()):
        raise ValueError(f"not a handle: {bot!r}")
    bot_key = grammar.key(bot)
    if ceiling.currency != "EUR":
        raise ValueError("the command language reads euros only")
    author_key = grammar.key(author)
    if author_key == bot_key:
        return NOT_A_COMMAND  # our own replies quote commands
    keys = tuple(dict.fromkeys(grammar.key(handle) for handle in mentioned))
    hidden = first_hidden(text)
    if hidden is not None:
        # Refuse anything that is, or becomes once cleaned, a command.
        if _frame(text, bot_key, direct, grammar, keys) or _frame(
            strip_hidden(text), bot_key, direct, grammar, keys
        ):
            return _invalid(ErrorCode.HIDDEN_CHARACTERS, hidden)
        return NOT_A_COMMAND
    frame = _frame(text, bot_key, direct, grammar, keys)
    if frame is None:
        return NOT_A_COMMAND
    return _judge(text, frame, bot=bot_key, author=author_key, direct=direct, ceiling=ceiling)


def looks_like_a_command(
    text: str,
    *,
    author: str,
    bot: str = "SmoneyFR",
    direct: bool = False,
    ceiling: Money = DEFAULT_CEILING,
    grammar: Grammar = X,
) -> bool:
    """A near miss: not a command (``parse`` says so), yet it names the bot, an amount and
    someone to pay — ``@SmoneyFR envoyer 5€ @alice``, the ``#`` forgotten. Such a post
    deserves the syntax (it never pays: only ``parse`` decides what is a command)."""
    bot_key, author_key = grammar.key(bot), grammar.key(author)
    if author_key == bot_key or _REPOST.search(text) or first_hidden(text) is not None:
        return False
    verdict = parse(text, author=author, bot=bot, direct=direct, ceiling=ceiling, grammar=grammar)
    if verdict.kind != "not_a_command":
        return False
    blocked = quote_spans(text) + url_spans(text)
    at_tokens = [t for t in grammar.scan(text) if not overlaps(t.start, t.end, blocked)]
    if not direct and not any(t.proper and grammar.key(t.run) == bot_key for t in at_tokens):
        return False
    context = set() if direct else _reply_context(text, at_tokens)
    named = [
        t
        for index, t in enumerate(at_tokens)
        if index not in context and t.proper and grammar.key(t.run) not in (bot_key, author_key)
    ]
    if not named:
        return False
    hashtags = [h for h in scan_hashtags(text) if not overlaps(h.start, h.end, blocked)]
    blocked += [(t.start, t.end) for t in at_tokens] + [(h.start, h.end) for h in hashtags]
    # Any euro amount, even one a command would refuse (1,000€): the reply says how to write it.
    return any(finding.numeric for finding in find_amounts(text, blocked, ceiling))
