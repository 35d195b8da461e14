"""A stand-in for X (label: STAND-IN, not X): the API v2 endpoints envoi calls, in their
documented request and response shapes, and the Account Activity webhook deliveries X
would make, signed as X signs them. No real X server can run here.

Served over real HTTP on 127.0.0.1 by uvicorn (``serve``), once per test session; envoi
reaches it through its normal client with ``ENVOI_X__API_BASE_URL``. The tests act as
people on X through ``XWorld`` (posting, DMs, renames, deletions), and inject X's
failures: 429 with ``x-rate-limit-*`` headers, an outage (503), a response lost after
the post was made. It also keeps X's bill per call, at X's published 2026 prices.

Shapes followed: docs.x.com API v2 (``/2/tweets``, ``/2/users/:id/mentions``,
``/2/users/by/username/:username``, ``/2/users/:id/tweets``, ``/2/users/me``,
``/2/dm_events``, ``/2/dm_conversations/with/:id/messages`` and ``/dm_events``,
``/2/oauth2/token``, ``/i/oauth2/authorize``), problem-details errors, and the Account
Activity payloads (``tweet_create_events``, ``direct_message_events`` with ``users``,
``tweet_delete_events``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from envoi.adapters.networks.x.signing import (
    body_signature,
    oauth1_signature,
    parse_oauth1_header,
)

TWITTER_EPOCH_MS = 1288834974657
PRICES = {"post_read": 5_000, "user_read": 10_000, "dm_read": 10_000}
PRICES |= {"reply": 15_000, "reply_url": 200_000, "dm": 15_000}
_MENTION = re.compile(r"(?<![A-Za-z0-9_!#$%&*@＠])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@＠])")
_URL = re.compile(r"(?:https?://|www\.)\S+|(?<![@\w.])(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?", re.I)
_V1_DATE = "%a %b %d %H:%M:%S +0000 %Y"


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status, **extra}
    return JSONResponse(body, status_code=status)


@dataclass
class Keys:
    consumer_key: str = "standin-consumer-key"
    consumer_secret: str = "standin-consumer-secret"
    access_token: str = "1-standin-bot-token"
    access_token_secret: str = "standin-bot-token-secret"
    client_id: str = "standin-oauth2-client"


@dataclass
class Fault:
    method: str
    path: str  # a prefix of the request path
    times: int
    kind: str  # "429", "lose_response" (act, then answer 503)
    reset_in_s: float = 0.0


@dataclass
class XState:
    keys: Keys = field(default_factory=Keys)
    bot_id: str = ""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    dms: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[bytes] = field(default_factory=list)
    bill: list[tuple[str, int]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    down: bool = False
    last_id: int = 0


class XWorld:
    """The stand-in's state and what people do on it (thread-safe: uvicorn serves in a thread)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.state = XState()
        self.url = ""

    # --- set-up ------------------------------------------------------------------

    def reset(self, bot_username: str = "SmoneyFR") -> str:
        with self.lock:
            self.state = XState()
            self.state.bot_id = self.create_user(bot_username, "envoi")["id"]
            return self.state.bot_id

    def _next_id(self) -> str:
        now = ((int(time.time() * 1000) - TWITTER_EPOCH_MS) << 22) | secrets.randbelow(1 << 12)
        self.state.last_id = max(self.state.last_id + 1, now)
        return str(self.state.last_id)

    def create_user(
        self, username: str, name: str | None = None, *, age_days: int = 900
    ) -> dict[str, Any]:
        with self.lock:
            user = {
                "id": self._next_id(),
                "username": username,
                "name": name or username.title(),
                "created_at": datetime.now(UTC) - timedelta(days=age_days),
            }
            self.state.users[user["id"]] = user
            return user

    def by_username(self, username: str) -> dict[str, Any] | None:
        for user in self.state.users.values():
            if user["username"].lower() == username.lower():
                return user
        return None

    def rename(self, user_id: str, username: str) -> None:
        with self.lock:
            self.state.users[user_id]["username"] = username

    # --- what people (and the bot, through the API) do ---------------------------

    def _mentions(self, text: str) -> list[dict[str, Any]]:
        found = []
        for match in _MENTION.finditer(text):
            user = self.by_username(match.group(1))
            if user is not None:
                found.append({"start": match.start(), "end": match.end(), "user": user})
        return found

    def post(self, author_id: str, text: str, in_reply_to: str | None = None) -> dict[str, Any]:
        with self.lock:
            tweet = {
                "id": self._next_id(),
                "text": text,
                "author_id": author_id,
                "created_at": datetime.now(UTC),
                "in_reply_to": in_reply_to,
                "mentions": self._mentions(text),
                "deleted": False,
            }
            self.state.tweets[tweet["id"]] = tweet
            if self._for_bot(tweet):
                self._deliver({"tweet_create_events": [self._v1_status(tweet)]})
            return tweet

    def _for_bot(self, tweet: dict[str, Any]) -> bool:
        bot = self.state.bot_id
        parent = self.state.tweets.get(tweet["in_reply_to"] or "")
        return (
            tweet["author_id"] == bot
            or any(m["user"]["id"] == bot for m in tweet["mentions"])
            or (parent is not None and parent["author_id"] == bot)
        )

    def dm(self, sender_id: str, recipient_id: str, text: str) -> dict[str, Any]:
        with self.lock:
            event = {
                "id": self._next_id(),
                "text": text,
                "sender_id": sender_id,
                "recipient_id": recipient_id,
                "created_at": datetime.now(UTC),
                "mentions": self._mentions(text),
            }
            self.state.dms.append(event)
            if self.state.bot_id in (sender_id, recipient_id):
                users = {u: self._v1_user(self.state.users[u]) for u in (sender_id, recipient_id)}
                self._deliver({"direct_message_events": [self._v1_dm(event)], "users": users})
            return event

    def delete(self, tweet_id: str) -> None:
        with self.lock:
            tweet = self.state.tweets[tweet_id]
            tweet["deleted"] = True
            if self._for_bot(tweet):
                ms = str(int(time.time() * 1000))
                status = {"id": tweet_id, "user_id": tweet["author_id"]}
                self._deliver({"tweet_delete_events": [{"status": status, "timestamp_ms": ms}]})

    def _deliver(self, events: dict[str, Any]) -> None:
        payload = {"for_user_id": self.state.bot_id, "user_has_blocked": False, **events}
        self.state.webhooks.append(json.dumps(payload, ensure_ascii=False).encode())

    def take_webhooks(self) -> list[tuple[bytes, str]]:
        """X's pending webhook deliveries, each with the signature X would send."""
        with self.lock:
            bodies, self.state.webhooks = self.state.webhooks, []
        secret = self.state.keys.consumer_secret
        return [(body, body_signature(secret, body)) for body in bodies]

    # --- reading back -------------------------------------------------------------

    def bot_tweets(self) -> list[dict[str, Any]]:
        return [t for t in self.state.tweets.values() if t["author_id"] == self.state.bot_id]

    def received(self, user_id: str) -> list[str]:
        """The bot's replies to the user's posts or naming them, and its DMs to them."""
        with self.lock:
            texts = []
            for tweet in self.bot_tweets():
                parent = self.state.tweets.get(tweet["in_reply_to"] or "")
                named = any(m["user"]["id"] == user_id for m in tweet["mentions"])
                if named or (parent is not None and parent["author_id"] == user_id):
                    texts.append(tweet["text"])
            return texts + self.dms_to(user_id)

    def dms_to(self, user_id: str) -> list[str]:
        with self.lock:
            bot = self.state.bot_id
            return [
                d["text"]
                for d in self.state.dms
                if d["sender_id"] == bot and d["recipient_id"] == user_id
            ]

    def billed(self) -> dict[str, int]:
        """Calls billed by kind (``reply_url``: a post with a URL, $0.20)."""
        with self.lock:
            counts: dict[str, int] = {}
            for kind, units in self.state.bill:
                counts[kind] = counts.get(kind, 0) + units
            return counts

    def billed_micro_usd(self) -> int:
        with self.lock:
            return sum(PRICES[kind] * units for kind, units in self.state.bill)

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.state.faults.append(fault)

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.state.down = True
        try:
            yield
        finally:
            self.state.down = False

    # --- v1.1 shapes (Account Activity) and v2 shapes ----------------------------

    def _v1_user(self, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": int(user["id"]),
            "id_str": user["id"],
            "screen_name": user["username"],
            "name": user["name"],
            "created_at": user["created_at"].strftime(_V1_DATE),
            "created_timestamp": str(int(user["created_at"].timestamp() * 1000)),
        }

    def _v1_mentions(self, mentions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "screen_name": m["user"]["username"],
                "name": m["user"]["name"],
                "id": int(m["user"]["id"]),
                "id_str": m["user"]["id"],
                "indices": [m["start"], m["end"]],
            }
            for m in mentions
        ]

    def _v1_status(self, tweet: dict[str, Any]) -> dict[str, Any]:
        text = tweet["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return {
            "created_at": tweet["created_at"].strftime(_V1_DATE),
            "id": int(tweet["id"]),
            "id_str": tweet["id"],
            "text": text,
            "truncated": False,
            "in_reply_to_status_id_str": tweet["in_reply_to"],
            "user": self._v1_user(self.state.users[tweet["author_id"]]),
            "entities": {
                "hashtags": [],
                "urls": [],
                "user_mentions": self._v1_mentions(tweet["mentions"]),
            },
            "timestamp_ms": str(int(tweet["created_at"].timestamp() * 1000)),
        }

    def _v1_dm(self, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "message_create",
            "id": event["id"],
            "created_timestamp": str(int(event["created_at"].timestamp() * 1000)),
            "message_create": {
                "target": {"recipient_id": event["recipient_id"]},
                "sender_id": event["sender_id"],
                "message_data": {
                    "text": event["text"],
                    "entities": {
                        "hashtags": [],
                        "symbols": [],
                        "urls": [],
                        "user_mentions": self._v1_mentions(event["mentions"]),
                    },
                },
            },
        }

    def v2_user(self, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": user["id"],
            "name": user["name"],
            "username": user["username"],
            "created_at": _iso(user["created_at"]),
        }

    def v2_tweet(self, tweet: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": tweet["id"],
            "text": tweet["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
            "author_id": tweet["author_id"],
            "created_at": _iso(tweet["created_at"]),
            "edit_history_tweet_ids": [tweet["id"]],
        }
        if tweet["mentions"]:
            body["entities"] = {
                "mentions": [
                    {
                        "start": m["start"],
                        "end": m["end"],
                        "username": m["user"]["username"],
                        "id": m["user"]["id"],
                    }
                    for m in tweet["mentions"]
                ]
            }
        if tweet["in_reply_to"]:
            body["referenced_tweets"] = [{"type": "replied_to", "id": tweet["in_reply_to"]}]
        return body

    def v2_dm(self, event: dict[str, Any]) -> dict[str, Any]:
        pair = sorted([event["sender_id"], event["recipient_id"]], key=int)
        return {
            "id": event["id"],
            "event_type": "MessageCreate",
            "text": event["text"],
            "sender_id": event["sender_id"],
            "dm_conversation_id": f"{pair[0]}-{pair[1]}",
            "created_at": _iso(event["created_at"]),
        }


# --- the HTTP app ----------------------------------------------------------------------


def _page(
    items: list[dict[str, Any]], request: Request, limit: int = 100
) -> tuple[list[Any], str | None]:
    start = int(request.query_params.get("pagination_token") or 0)
    size = min(int(request.query_params.get("max_results") or limit), limit)
    chunk = items[start : start + size]
    following = str(start + size) if start + size < len(items) else None
    return chunk, following


def create_app(world: XWorld) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        state = world.state
        if not path.startswith(("/2/", "/i/")):
            return await call_next(request)
        state.calls.append((request.method, path))
        if state.down:
            return problem(503, "Service Unavailable", "Service Unavailable")
        for fault in list(state.faults):
            hit = fault.method == request.method and path.startswith(fault.path)
            if hit and fault.times > 0 and fault.kind == "429":
                fault.times -= 1
                reset = int(time.time() + fault.reset_in_s)
                headers = {
                    "x-rate-limit-limit": "300",
                    "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(reset),
                }
                response = problem(429, "Too Many Requests", "Too Many Requests")
                response.headers.update(headers)
                return response
        if path.startswith("/2/") and path != "/2/oauth2/token":
            refused = await _check_auth(world, request)
            if refused is not None:
                return refused
        response = await call_next(request)
        for fault in list(state.faults):
            if (
                fault.kind == "lose_response"
                and fault.method == request.method
                and path.startswith(fault.path)
                and fault.times > 0
                and response.status_code < 300
            ):
                fault.times -= 1
                return problem(503, "Service Unavailable", "Service Unavailable")
        return response

    def bill(kind: str, units: int = 1) -> None:
        if units:
            world.state.bill.append((kind, units))

    @app.post("/2/tweets")
    async def create_tweet(request: Request) -> Response:
        body = await request.json()
        text = str(body.get("text") or "")
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if not text or len(text) > 280:
            return problem(
                400,
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                type="https://api.twitter.com/2/problems/invalid-request",
            )
        with world.lock:
            parent = world.state.tweets.get(str(reply_to)) if reply_to else None
            if reply_to and (parent is None or parent["deleted"]):
                return problem(
                    403,
                    "Forbidden",
                    "You attempted to reply to a Tweet that is deleted or not visible to you.",
                )
            bot = world.state.bot_id
            day_ago = datetime.now(UTC) - timedelta(hours=24)
            if any(
                t["author_id"] == bot and t["text"] == text and t["created_at"] > day_ago
                for t in world.state.tweets.values()
            ):
                return problem(
                    403,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                )
            tweet = world.post(bot, text, in_reply_to=str(reply_to) if reply_to else None)
            bill("reply_url" if _URL.search(text) else "reply")
        return JSONResponse(
            {"data": {"id": tweet["id"], "text": text, "edit_history_tweet_ids": [tweet["id"]]}},
            status_code=201,
        )

    @app.post("/2/dm_conversations/with/{participant_id}/messages")
    async def send_dm(participant_id: str, request: Request) -> Response:
        body = await request.json()
        text = str(body.get("text") or "")
        if participant_id not in world.state.users:
            return problem(
                400,
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                errors=[
                    {"parameters": {"participant_id": [participant_id]}, "message": "not found"}
                ],
            )
        if not text or len(text) > 10_000:
            return problem(400, "Invalid Request", "text must be 1 to 10000 characters")
        event = world.dm(world.state.bot_id, participant_id, text)
        bill("dm")
        pair = sorted([world.state.bot_id, participant_id], key=int)
        return JSONResponse(
            {"data": {"dm_conversation_id": f"{pair[0]}-{pair[1]}", "dm_event_id": event["id"]}},
            status_code=201,
        )

    @app.get("/2/users/{user_id}/mentions")
    def mentions(user_id: str, request: Request) -> Response:
        since = int(request.query_params.get("since_id") or 0)
        with world.lock:
            found = sorted(
                (
                    t
                    for t in world.state.tweets.values()
                    if not t["deleted"]
                    and int(t["id"]) > since
                    and any(m["user"]["id"] == user_id for m in t["mentions"])
                ),
                key=lambda t: int(t["id"]),
                reverse=True,
            )
            chunk, following = _page(found, request)
            return _timeline(world, chunk, following, bill)

    @app.get("/2/users/{user_id}/tweets")
    def user_tweets(user_id: str, request: Request) -> Response:
        start = request.query_params.get("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        with world.lock:
            found = sorted(
                (
                    t
                    for t in world.state.tweets.values()
                    if t["author_id"] == user_id
                    and not t["deleted"]
                    and (since is None or t["created_at"] >= since)
                ),
                key=lambda t: int(t["id"]),
                reverse=True,
            )
            chunk, following = _page(found, request)
            return _timeline(world, chunk, following, bill)

    @app.get("/2/users/by/username/{username}")
    def user_by_username(username: str) -> Response:
        user = world.by_username(username)
        if user is None:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "value": username,
                            "detail": f"Could not find user with username: [{username}].",
                            "title": "Not Found Error",
                            "resource_type": "user",
                            "parameter": "username",
                            "resource_id": username,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                }
            )
        bill("user_read")
        return JSONResponse({"data": world.v2_user(user)})

    @app.get("/2/users/me")
    def me(request: Request) -> Response:
        user_id = request.state.user_id
        bill("user_read")
        return JSONResponse({"data": world.v2_user(world.state.users[user_id])})

    @app.get("/2/dm_events")
    def dm_events(request: Request) -> Response:
        me_id = request.state.user_id
        with world.lock:
            found = [d for d in world.state.dms if me_id in (d["sender_id"], d["recipient_id"])]
            return _dm_page(world, found, request, bill)

    @app.get("/2/dm_conversations/with/{participant_id}/dm_events")
    def conversation(participant_id: str, request: Request) -> Response:
        me_id = request.state.user_id
        pair = {me_id, participant_id}
        with world.lock:
            found = [d for d in world.state.dms if {d["sender_id"], d["recipient_id"]} == pair]
            return _dm_page(world, found, request, bill)

    @app.get("/i/oauth2/authorize")
    def authorize(request: Request) -> Response:
        """X's consent page, the person already signed in (cookie ``standin_user``) and
        saying yes: back to the app with a code bound to the PKCE challenge."""
        q = request.query_params
        user_id = request.cookies.get("standin_user")
        if (
            q.get("response_type") != "code"
            or q.get("client_id") != world.state.keys.client_id
            or q.get("code_challenge_method") != "S256"
            or not q.get("code_challenge")
            or user_id not in world.state.users
        ):
            return problem(400, "Invalid Request", "bad authorization request")
        code = secrets.token_urlsafe(16)
        world.state.codes[code] = {
            "user_id": str(user_id),
            "challenge": q["code_challenge"],
            "redirect_uri": q.get("redirect_uri", ""),
        }
        sep = "&" if "?" in q.get("redirect_uri", "") else "?"
        return RedirectResponse(f"{q.get('redirect_uri')}{sep}state={q.get('state')}&code={code}")

    @app.post("/2/oauth2/token")
    async def token(request: Request) -> Response:
        form = await request.form()
        grant = world.state.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier") or "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            form.get("grant_type") != "authorization_code"
            or form.get("client_id") != world.state.keys.client_id
            or grant is None
            or grant["challenge"] != challenge
            or grant["redirect_uri"] != form.get("redirect_uri")
        ):
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "Value passed for the authorization code was invalid.",
                },
                status_code=400,
            )
        access = secrets.token_urlsafe(24)
        world.state.tokens[access] = grant["user_id"]
        return JSONResponse(
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": access,
                "scope": "tweet.read users.read dm.read dm.write offline.access",
            }
        )

    return app


def _timeline(
    world: XWorld, chunk: list[dict[str, Any]], following: str | None, bill: Any
) -> Response:
    if not chunk:
        return JSONResponse({"meta": {"result_count": 0}})
    authors = {t["author_id"] for t in chunk} | {
        m["user"]["id"] for t in chunk for m in t["mentions"]
    }
    meta: dict[str, Any] = {
        "result_count": len(chunk),
        "newest_id": chunk[0]["id"],
        "oldest_id": chunk[-1]["id"],
    }
    if following:
        meta["next_token"] = following
    bill("post_read", len(chunk))
    return JSONResponse(
        {
            "data": [world.v2_tweet(t) for t in chunk],
            "includes": {"users": [world.v2_user(world.state.users[a]) for a in sorted(authors)]},
            "meta": meta,
        }
    )


def _dm_page(world: XWorld, found: list[dict[str, Any]], request: Request, bill: Any) -> Response:
    found = sorted(found, key=lambda d: int(d["id"]), reverse=True)
    chunk, following = _page(found, request)
    meta: dict[str, Any] = {"result_count": len(chunk)}
    if following:
        meta["next_token"] = following
    bill("dm_read", len(chunk))
    senders = sorted({d["sender_id"] for d in chunk})
    body: dict[str, Any] = {"meta": meta}
    if chunk:
        body["data"] = [world.v2_dm(d) for d in chunk]
        body["includes"] = {"users": [world.v2_user(world.state.users[s]) for s in senders]}
    return JSONResponse(body)


async def _check_auth(world: XWorld, request: Request) -> Response | None:
    """OAuth 1.0a as the bot (signature checked), or an OAuth 2.0 user token."""
    header = request.headers.get("authorization", "")
    keys = world.state.keys
    unauthorized = problem(401, "Unauthorized", "Unauthorized")
    if header.startswith("Bearer "):
        user_id = world.state.tokens.get(header[len("Bearer ") :])
        if user_id is None:
            return unauthorized
        request.state.user_id = user_id
        return None
    oauth = parse_oauth1_header(header)
    if (
        oauth.get("oauth_consumer_key") != keys.consumer_key
        or oauth.get("oauth_token") != keys.access_token
    ):
        return unauthorized
    signed = [(k, v) for k, v in oauth.items() if k != "oauth_signature"]
    signed += list(request.query_params.multi_items())
    # (envoi signs JSON bodies only, which OAuth 1.0a leaves out of the signature)
    url = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
    expected = oauth1_signature(
        request.method, url, signed, keys.consumer_secret, keys.access_token_secret
    )
    if expected != oauth.get("oauth_signature"):
        return unauthorized
    request.state.user_id = world.state.bot_id
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve() -> Iterator[XWorld]:
    """The stand-in on a free port of 127.0.0.1 until the block ends."""
    world = XWorld()
    port = _free_port()
    config = uvicorn.Config(
        create_app(world),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="x-standin", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the X stand-in did not start")
        time.sleep(0.02)
    world.url = f"http://127.0.0.1:{port}"
    try:
        yield world
    finally:
        server.should_exit = True
        thread.join(10)
