"""X's webhook checks and OAuth 1.0a request signing, as documented (no network I/O here).

Webhook (docs.x.com/x-api/webhooks/quickstart, "securing webhooks"): X proves it knows the
app's consumer secret by a challenge-response check (CRC) on ``GET``, and signs every
``POST`` body with it in ``x-twitter-webhooks-signature``. OAuth 1.0a user context
(RFC 5849, HMAC-SHA1; docs.x.com "Creating a signature") signs the bot's own API calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlsplit, urlunsplit

SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def _hmac_sha256_b64(key: str, message: bytes) -> str:
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    """The JSON body that answers ``GET ?crc_token=…``."""
    return {"response_token": "sha256=" + _hmac_sha256_b64(consumer_secret, crc_token.encode())}


def body_signature(consumer_secret: str, raw_body: bytes) -> str:
    """What X puts in ``x-twitter-webhooks-signature`` for ``raw_body``."""
    return "sha256=" + _hmac_sha256_b64(consumer_secret, raw_body)


def signature_valid(consumer_secret: str, raw_body: bytes, header: str | None) -> bool:
    """The header signs these exact bytes with our secret (compared in constant time)."""
    if not header or not consumer_secret:
        return False
    expected = body_signature(consumer_secret, raw_body)
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def _pct(value: str) -> str:
    # RFC 5849 §3.6: unreserved characters only are left as they are.
    return quote(value, safe="-._~")


def oauth1_signature(
    method: str,
    url: str,
    params: Iterable[tuple[str, str]],
    consumer_secret: str,
    token_secret: str,
) -> str:
    """The HMAC-SHA1 signature of a request (query, form body and oauth_* parameters)."""
    parts = urlsplit(url)
    base_url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))
    encoded = sorted((_pct(k), _pct(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    base = "&".join((method.upper(), _pct(base_url), _pct(normalized)))
    key = f"{_pct(consumer_secret)}&{_pct(token_secret)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def oauth1_header(
    method: str,
    url: str,
    query: Mapping[str, str],
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """``Authorization: OAuth …`` for a request whose body is JSON (not signed, per spec)."""
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_token": token,
        "oauth_version": "1.0",
    }
    signature = oauth1_signature(
        method, url, [*query.items(), *oauth.items()], consumer_secret, token_secret
    )
    oauth["oauth_signature"] = signature
    return "OAuth " + ", ".join(f'{_pct(k)}="{_pct(v)}"' for k, v in sorted(oauth.items()))


def parse_oauth1_header(header: str) -> dict[str, str]:
    """The parameters of an ``OAuth …`` header (for the test stand-in's own check)."""
    from urllib.parse import unquote

    if not header.startswith("OAuth "):
        return {}
    found = {}
    for item in header[len("OAuth ") :].split(","):
        key, _, value = item.strip().partition("=")
        found[unquote(key)] = unquote(value.strip('"'))
    return found
