"""X API v2 over HTTP (httpx), signed as the bot (OAuth 1.0a user context).

Why not tweepy: ``tweepy.Client.request`` hard-codes ``https://api.twitter.com`` (a local
variable, not a setting), and its rate-limit handling sleeps the calling thread until the
window resets. envoi needs a configurable base URL (``ENVOI_X__API_BASE_URL``: the real
API, or a stand-in in tests) and a 429 that becomes "retry at" for its outbox, so it calls
the documented v2 endpoints directly.

Every billable call goes through ``SpendMeter`` first (the daily budget). A 429 whose
``x-rate-limit-reset`` is a few seconds away is waited for and retried; a later one raises
``RateLimited`` (a ``NetworkBusy``) carrying the reset time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from envoi.adapters.networks.x.signing import oauth1_header
from envoi.adapters.networks.x.spend import SpendMeter
from envoi.services.ports import NetworkBusy

log = structlog.get_logger(__name__)

TIMEOUT_S = 10.0
_RETRIES_ON_429 = 2
_USER_FIELDS = "created_at,name,username"
_TWEET_FIELDS = "author_id,created_at,entities,in_reply_to_user_id,referenced_tweets"
_DM_FIELDS = "id,text,event_type,created_at,sender_id,dm_conversation_id"


class XApiError(Exception):
    """X answered with an error (a problem-details body): nothing was done."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"X API {status}: {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail

    @property
    def duplicate(self) -> bool:
        return self.status == 403 and "duplicate content" in self.detail.lower()

    @property
    def target_gone(self) -> bool:
        text = self.detail.lower()
        return self.status in (400, 403, 404) and ("deleted" in text or "not visible" in text)


class RateLimited(NetworkBusy):
    """HTTP 429: X takes calls of this kind again at ``retry_at``."""


def _problem(response: httpx.Response) -> XApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errors = body.get("errors") or [{}]
    first = errors[0] if isinstance(errors, list) and errors else {}
    title = str(body.get("title") or first.get("title") or response.reason_phrase)
    detail = str(
        body.get("detail")
        or body.get("error_description")  # the OAuth 2.0 token endpoint's errors
        or first.get("detail")
        or first.get("message")
        or ""
    )
    return XApiError(response.status_code, title, detail)


class XApi:
    def __init__(
        self,
        base_url: str,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        meter: SpendMeter,
        rate_limit_wait_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._keys = (consumer_key, consumer_secret, access_token, access_token_secret)
        self.meter = meter
        self.rate_limit_wait_s = rate_limit_wait_s
        self._sleep = sleep
        self._http = httpx.Client(timeout=TIMEOUT_S, transport=transport)

    def close(self) -> None:
        self._http.close()

    # --- the one way out -------------------------------------------------------------

    def _auth(self, method: str, url: str, params: Mapping[str, str]) -> str:
        consumer_key, consumer_secret, token, token_secret = self._keys
        return oauth1_header(
            method,
            url,
            params,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            token=token,
            token_secret=token_secret,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        bearer: str | None = None,
        basic: tuple[str, str] | None = None,
        unsigned: bool = False,
        cost: str | None = None,
    ) -> dict[str, Any]:
        """One call; ``cost`` names what a successful write is billed as (reserved first)."""
        url = self.base_url + path
        params = dict(params or {})
        reservation = self.meter.reserve(cost) if cost else None
        try:
            for attempt in range(_RETRIES_ON_429 + 1):
                headers = {"user-agent": "envoi"}
                if bearer is not None:
                    headers["authorization"] = f"Bearer {bearer}"
                elif basic is None and not unsigned:
                    # Form fields are part of an OAuth 1.0a signature; JSON bodies are not.
                    headers["authorization"] = self._auth(method, url, {**params, **(form or {})})
                try:
                    response = self._http.request(
                        method,
                        url,
                        params=params or None,
                        json=json,
                        data=form,
                        headers=headers,
                        auth=basic,
                    )
                except httpx.TransportError as exc:
                    # Whether X acted is unknown (a timeout after sending): the reservation
                    # stays counted, and callers treat it as an outage (an OSError).
                    raise ConnectionError(f"X API unreachable: {exc}") from exc
                if response.status_code != 429:
                    break
                retry_at = _reset_time(response)
                wait = (retry_at - datetime.now(UTC)).total_seconds()
                log.warning("x.rate_limited", path=path, retry_in_s=round(wait, 1))
                if attempt == _RETRIES_ON_429 or wait > self.rate_limit_wait_s:
                    raise RateLimited(f"X rate limit on {method} {path}", retry_at)
                self._sleep(max(wait, 0.0))
            if response.status_code >= 400:
                raise _problem(response)
        except (RateLimited, XApiError):
            if reservation is not None:
                self.meter.release(reservation)  # refused: X does not bill it
            raise
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {}

    # --- endpoints envoi calls ---------------------------------------------------------

    def mentions(self, user_id: str, since_id: str, pagination_token: str | None) -> dict[str, Any]:
        params = {
            "since_id": since_id,
            "max_results": "100",
            "tweet.fields": _TWEET_FIELDS,
            "expansions": "author_id,entities.mentions.username",
            "user.fields": _USER_FIELDS,
        }
        if pagination_token:
            params["pagination_token"] = pagination_token
        body = self.request("GET", f"/2/users/{user_id}/mentions", params=params)
        self.meter.record("post_read", len(body.get("data") or ()))
        return body

    def dm_events(self, pagination_token: str | None) -> dict[str, Any]:
        # Each event returned is billed: a first page of 10 (a quiet poll costs little),
        # the pages after it 100.
        params = {
            "event_types": "MessageCreate",
            "max_results": "100" if pagination_token else "10",
            "dm_event.fields": _DM_FIELDS,
            "expansions": "sender_id",
            "user.fields": _USER_FIELDS,
        }
        if pagination_token:
            params["pagination_token"] = pagination_token
        body = self.request("GET", "/2/dm_events", params=params)
        self.meter.record("dm_read", len(body.get("data") or ()))
        return body

    def create_reply(self, in_reply_to: str, text: str) -> str:
        body = self.request(
            "POST",
            "/2/tweets",
            json={"text": text, "reply": {"in_reply_to_tweet_id": in_reply_to}},
            cost="reply",
        )
        return str(body["data"]["id"])

    def send_dm(self, participant_id: str, text: str) -> str:
        body = self.request(
            "POST",
            f"/2/dm_conversations/with/{participant_id}/messages",
            json={"text": text},
            cost="dm",
        )
        return str(body["data"]["dm_event_id"])

    def user_by_username(self, username: str) -> dict[str, Any] | None:
        body = self.request(
            "GET", f"/2/users/by/username/{username}", params={"user.fields": _USER_FIELDS}
        )
        found = body.get("data")
        self.meter.record("user_read", 1 if found else 0)
        return found if isinstance(found, dict) else None

    def recent_posts(self, user_id: str, since: datetime) -> list[dict[str, Any]]:
        """The account's own posts since ``since`` (to find a reply a crash left unrecorded)."""
        start = (since - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self.request(
            "GET",
            f"/2/users/{user_id}/tweets",
            params={"start_time": start, "max_results": "100", "tweet.fields": _TWEET_FIELDS},
        )
        found = list(body.get("data") or ())
        self.meter.record("post_read", len(found))
        return found

    def conversation_events(self, participant_id: str) -> list[dict[str, Any]]:
        """The latest messages of the one-to-one conversation with ``participant_id``."""
        body = self.request(
            "GET",
            f"/2/dm_conversations/with/{participant_id}/dm_events",
            params={
                "event_types": "MessageCreate",
                "max_results": "50",
                "dm_event.fields": _DM_FIELDS,
            },
        )
        found = list(body.get("data") or ())
        self.meter.record("dm_read", len(found))
        return found

    def me(self, user_token: str) -> dict[str, Any]:
        """Who holds this OAuth 2.0 user access token."""
        body = self.request(
            "GET", "/2/users/me", params={"user.fields": _USER_FIELDS}, bearer=user_token
        )
        self.meter.record("user_read", 1)
        data = body.get("data")
        if not isinstance(data, dict):
            raise XApiError(200, "No user", "the token names nobody")
        return data


OAUTH_SCOPES = "tweet.read users.read dm.read dm.write offline.access"


class XOAuth:
    """OAuth 2.0 Authorization Code with PKCE (docs.x.com, "OAuth 2.0 Authorization Code
    Flow with PKCE"): the consent page on x.com, the token endpoint on the API host. A
    confidential client authenticates with HTTP Basic (client id and secret); a public
    one sends its ``client_id`` alone."""

    def __init__(
        self, api: XApi, *, client_id: str, client_secret: str, authorize_url: str
    ) -> None:
        self.api = api
        self.client_id = client_id
        self.client_secret = client_secret
        self.authorize_url = authorize_url

    def authorization_url(self, state: str, code_challenge: str, redirect_uri: str) -> str:
        from urllib.parse import urlencode

        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": OAUTH_SCOPES,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.authorize_url}?{query}"

    def exchange(self, code: str, code_verifier: str, redirect_uri: str) -> str:
        form = {
            "code": code,
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        basic = (self.client_id, self.client_secret) if self.client_secret else None
        body = self.api.request("POST", "/2/oauth2/token", form=form, basic=basic, unsigned=True)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise XApiError(200, "No token", "the token endpoint answered without one")
        return token


def _reset_time(response: httpx.Response) -> datetime:
    """``x-rate-limit-reset`` is the epoch second the window resets (60 s when absent)."""
    try:
        return datetime.fromtimestamp(int(response.headers["x-rate-limit-reset"]), UTC)
    except (KeyError, ValueError, OverflowError):
        return datetime.now(UTC) + timedelta(seconds=60)
