"""Refuse NUL characters, lone surrogates and oversized bodies at the edge, before any route
sees them.

PostgreSQL text columns cannot hold a NUL (``\\x00``): a NUL that reaches the
database fails the statement and the caller gets a 500. SQLite would store it
as is. Rather than check every field of every route, this pure-ASGI middleware
looks at the raw request once:

* the path (decoded, and ``%00`` in the raw path), and the query string (raw or ``%00``);
* the body, buffered (at most ``max_body`` bytes, else 413) and replayed to the
  application: a raw NUL byte anywhere; in a form (``application/x-www-form-urlencoded``)
  a ``%00``; in any other body a JSON ``\\u0000`` escape (any case, not itself escaped).

A lone UTF-16 surrogate (JSON ``"\\ud800"``, or its raw UTF-8-like bytes, which Python's
``json`` also decodes) becomes a ``str`` that cannot be encoded: it failed in the database
driver or in the answer that echoed it (500). Every JSON body is checked for one: an
escaped high surrogate must be followed at once by an escaped low one, and a low one must
follow a high one. Forms, paths and query strings are decoded with replacement characters
and cannot carry one.

A refused API request gets the usual JSON error (``VALIDATION_ERROR``, 422) in
the caller's language; a web wallet page gets a short HTML page instead.
"""

from __future__ import annotations

import html
import re
from typing import Final

from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import pick_locale, render_error
from envoi.domain.model import Locale
from envoi.web.errors import error_body
from envoi.web.i18n import choose_locale
from envoi.web.wallet_session import LANG_COOKIE

MAX_BODY: Final = 1024 * 1024  # 1 MiB: envoi's largest legitimate body is a few hundred bytes
DRAIN_FACTOR: Final = 16
JSON_PREFIXES: Final = ("/api/", "/sandbox/", "/healthz", "/docs", "/redoc", "/openapi.json")

# A ``\u0000`` escape preceded by an even number of backslashes (``\\u0000`` is text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_PERCENT_NUL = b"%00"
# Every escape in a JSON string, in order (``\\\\`` is consumed as a pair, so the ``u``
# escapes found are real ones); and UTF-8-style bytes of a surrogate, which UTF-8 forbids.
_JSON_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")

_REASONS: Final[dict[str, dict[Locale, str]]] = {
    "path": {
        "fr": "caractère NUL interdit dans le chemin",
        "en": "NUL character not allowed in the path",
    },
    "query": {
        "fr": "caractère NUL interdit dans les paramètres de l'adresse",
        "en": "NUL character not allowed in the query string",
    },
    "body": {
        "fr": "caractère NUL interdit dans le corps de la requête",
        "en": "NUL character not allowed in the request body",
    },
    "surrogate": {
        "fr": "caractère invalide (moitié isolée d'une paire UTF-16) dans le corps de la requête",
        "en": "invalid character (lone UTF-16 surrogate) in the request body",
    },
    "too_large": {
        "fr": "corps de la requête trop volumineux ({limit} octets au plus)",
        "en": "request body too large ({limit} bytes at most)",
    },
}


class _ClientGoneError(Exception):
    """The client disconnected before sending its whole body."""


class InputGuard:
    """ASGI middleware: 422 for a NUL in path, query or body or a lone surrogate in a JSON
    body; 413 for a body over the cap."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        # The body is read (or drained) first, so that a refusal leaves the
        # connection clean for the client's next request.
        try:
            body = await _read_body(receive, self.max_body)
        except _ClientGoneError:
            return  # no one to answer
        problem: tuple[str, int] | None = None
        if body is None:
            problem = ("too_large", 413)
        elif _path_has_nul(scope):
            problem = ("path", 422)
        elif _query_has_nul(scope):
            problem = ("query", 422)
        elif _body_has_nul(body, conn.headers.get("content-type", "")):
            problem = ("body", 422)
        elif _body_has_lone_surrogate(body, conn.headers.get("content-type", "")):
            problem = ("surrogate", 422)
        if problem is not None:
            reason, status = problem
            await _refuse(conn, reason, status, self.max_body)(scope, receive, send)
            return
        assert body is not None
        await self.app(scope, _replay(body, receive), send)


def _path_has_nul(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    raw: bytes = scope.get("raw_path") or b""
    return "\x00" in path or b"\x00" in raw or _PERCENT_NUL in raw


def _query_has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return b"\x00" in query or _PERCENT_NUL in query


def _body_has_nul(body: bytes, content_type: str) -> bool:
    if b"\x00" in body:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return _PERCENT_NUL in body
    return _JSON_NUL.search(body) is not None


def _body_has_lone_surrogate(body: bytes, content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return False  # percent-decoding replaces what is not UTF-8
    if _RAW_SURROGATE.search(body):
        return True
    if b"\\u" not in body:
        return False
    high_until: int | None = None  # where the escape after a high surrogate must start
    for match in _JSON_ESCAPE.finditer(body):
        unit = int(match.group(1), 16) if match.group(1) else None
        if high_until is not None:
            if unit is None or not 0xDC00 <= unit <= 0xDFFF or match.start() != high_until:
                return True
            high_until = None
        elif unit is not None and 0xD800 <= unit <= 0xDBFF:
            high_until = match.end()
        elif unit is not None and 0xDC00 <= unit <= 0xDFFF:
            return True
    return high_until is not None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; None when it is over ``limit`` (it is then drained, not
    kept, up to ``DRAIN_FACTOR`` times the limit: past that the connection is closed)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        else:
            chunks.clear()
        if not message.get("more_body", False) or size > limit * DRAIN_FACTOR:
            return b"".join(chunks) if size <= limit else None


def _replay(body: bytes, receive: Receive) -> Receive:
    """Give the application the buffered body once, then whatever the server sends next
    (``http.disconnect``, which Starlette listens for while it streams a response)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _refuse(conn: HTTPConnection, reason: str, status: int, limit: int) -> Response:
    path: str = conn.scope.get("path", "")
    wants_json = path.startswith(JSON_PREFIXES)
    if wants_json:
        locale = pick_locale(conn.headers.get("accept-language"), "en")
    else:
        locale = choose_locale(
            None, conn.cookies.get(LANG_COOKIE), conn.headers.get("accept-language")
        )
    text = _REASONS[reason][locale].format(limit=limit)
    error = EnvoiError(ErrorCode.VALIDATION_ERROR, reason=text)
    headers = {"Connection": "close"} if status == 413 else None
    if wants_json:
        return JSONResponse(error_body(error, locale), status_code=status, headers=headers)
    message = html.escape(render_error(error, locale))
    page = (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        f"<title>envoi</title></head><body><p>{message}</p>"
        f'<p><a href="/">envoi</a></p></body></html>'
    )
    return HTMLResponse(page, status_code=status, headers=headers)
