"""Post text -> command: pure functions, no I/O. Imports only stdlib, money and domain."""

from envoi.commands.extract import extract_hashtags, extract_mentions
from envoi.commands.parser import (
    COMMAND_HASHTAGS,
    DEFAULT_CEILING,
    Kind,
    ParseResult,
    looks_like_a_command,
    parse,
)

__all__ = [
    "COMMAND_HASHTAGS",
    "DEFAULT_CEILING",
    "Kind",
    "ParseResult",
    "extract_hashtags",
    "extract_mentions",
    "looks_like_a_command",
    "parse",
]
