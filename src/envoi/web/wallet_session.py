"""The web wallet's session cookie and CSRF tokens (stdlib ``hmac``; no extra dependency).

The cookie carries either the member's API token (``t:<token>``) or, before
sign-in, a random visitor nonce (``a:<nonce>``), signed with a key derived from
``settings.token_key``. It is HttpOnly (scripts cannot read the token),
SameSite=Lax (not sent on cross-site POSTs) and Secure when the wallet is
served over https. Every POST form also carries a CSRF token: an HMAC of the
cookie's payload under another derived key, so it is bound to this session,
changes when the visitor signs in and is useless to anyone without the cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE = "envoi_session"
LANG_COOKIE = "envoi_lang"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    payload: str  # "t:<api token>" or "a:<visitor nonce>"
    fresh: bool = False  # not yet in the browser: the response must set the cookie

    @property
    def token(self) -> str | None:
        return self.payload[2:] if self.payload.startswith("t:") else None

    @staticmethod
    def visitor() -> Session:
        return Session("a:" + secrets.token_urlsafe(18), fresh=True)

    @staticmethod
    def member(token: str) -> Session:
        return Session("t:" + token, fresh=True)


class SessionCodec:
    def __init__(self, secret: bytes, *, secure: bool, max_age_s: int) -> None:
        # Separate keys per use, so a value signed for one purpose is never valid for another.
        self._sign_key = hmac.new(secret, b"envoi-web:session-cookie", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret, b"envoi-web:csrf", hashlib.sha256).digest()
        self.secure = secure
        self.max_age_s = max_age_s

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._sign_key, payload.encode(), hashlib.sha256).digest()

    def dumps(self, session: Session) -> str:
        return _b64(session.payload.encode()) + "." + _b64(self._mac(session.payload))

    def loads(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None when it is missing, malformed or forged."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        try:
            payload = _unb64(body).decode()
            given = _unb64(mac)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not hmac.compare_digest(given, self._mac(payload)):
            return None
        if not payload.startswith(("t:", "a:")) or len(payload) < 10:
            return None
        return Session(payload)

    def csrf(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.payload.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, submitted: str | None) -> bool:
        # Bytes, not str: compare_digest refuses non-ASCII text, which a forger may send.
        given = (submitted or "").encode("utf-8", "replace")
        return bool(given) and hmac.compare_digest(self.csrf(session).encode(), given)
