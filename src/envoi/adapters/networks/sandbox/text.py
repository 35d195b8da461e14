"""Validation of what people type into the sandbox network, and its mention extraction."""

from __future__ import annotations

import re
import unicodedata

from envoi.adapters.networks.sandbox.tables import (
    DISPLAY_NAME_MAX,
    HANDLE_MAX,
    IDEMPOTENCY_KEY_MAX,
)
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.names import name_problem

POST_MAX = 500

_HANDLE = re.compile(rf"[A-Za-z0-9_]{{1,{HANDLE_MAX}}}")
# Mentions as twitter-text finds them: "@" not glued to a word, an e-mail or another
# symbol, and a handle not running on into more handle characters, an accented letter
# or "://". Only ASCII "@": a fullwidth one is a look-alike, not a mention.
_MENTION = re.compile(
    rf"(?<![A-Za-z0-9_!#$%&*@\uff20])@([A-Za-z0-9_]{{1,{HANDLE_MAX}}})"
    r"(?![A-Za-z0-9_@\uff20\u00c0-\u024f]|://)"
)
_IDEMPOTENCY_KEY = re.compile(rf"[!-~]{{1,{IDEMPOTENCY_KEY_MAX}}}")  # printable ASCII
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
# Direction overrides would let a display name or post render as something else.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_handle(value: str) -> bool:
    return _HANDLE.fullmatch(value) is not None


def handle_key(handle: str) -> str:
    return handle.lower()


def check_handle(value: str) -> str:
    handle = value.removeprefix("@")
    if not is_handle(handle):
        raise EnvoiError(ErrorCode.INVALID_HANDLE, handle=value[:40])
    return handle


def _check_chars(value: str, field: str) -> None:
    try:
        value.encode("utf-8")  # lone surrogates from JSON would fail in the driver
    except UnicodeEncodeError:
        raise EnvoiError(ErrorCode.VALIDATION_ERROR, field=field, reason="encoding") from None
    if any((ch < " " and ch not in "\n\t") or ch == "\x7f" or ch in _BIDI for ch in value):
        raise EnvoiError(ErrorCode.VALIDATION_ERROR, field=field, reason="control_character")


def check_display_name(value: str) -> str:
    name = unicodedata.normalize("NFC", value.strip())
    _check_chars(name, "display_name")
    if not name or "\n" in name or "\t" in name or len(name) > DISPLAY_NAME_MAX:
        raise EnvoiError(ErrorCode.VALIDATION_ERROR, field="display_name", max=DISPLAY_NAME_MAX)
    # Payers read this name before they pay: no zero-width characters, no "Вob" with a
    # Cyrillic В (a real network would not refuse them; envoi flags them there instead).
    problem = name_problem(name)
    if problem is not None:
        raise EnvoiError(ErrorCode.VALIDATION_ERROR, field="display_name", reason=problem)
    return name


def check_post_text(value: str) -> str:
    _check_chars(value, "text")
    if not value.strip() or len(value) > POST_MAX:
        raise EnvoiError(ErrorCode.VALIDATION_ERROR, field="text", max=POST_MAX)
    return value


def extract_mentions(text: str) -> list[str]:
    """Handles mentioned in ``text``, in order, once each (case-insensitively), URLs skipped."""
    without_urls = _URL.sub(lambda m: " " * len(m.group()), text)
    seen: dict[str, str] = {}
    for match in _MENTION.finditer(without_urls):
        seen.setdefault(handle_key(match.group(1)), match.group(1))
    return list(seen.values())


def check_idempotency_key(value: str) -> str:
    if _IDEMPOTENCY_KEY.fullmatch(value) is None:
        raise EnvoiError(
            ErrorCode.VALIDATION_ERROR, field="idempotency_key", max=IDEMPOTENCY_KEY_MAX
        )
    return value
