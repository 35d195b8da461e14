"""A Mastodon STAND-IN for the tests: no Mastodon server can be installed on this machine.

Mastodon is Rails + Node + PostgreSQL + Redis and is packaged on none of the registries
this project may use (``/work/shared/notes/local-networks.md``); ``mastodon-mock`` renders
mentions as plain text and has no streaming. So this ASGI app implements, over real HTTP,
the endpoints envoi's Mastodon adapter calls, in the shapes docs.joinmastodon.org
documents them (entities ``Account``, ``Status``, ``Notification``, ``Application``,
``Token``; ``Idempotency-Key``; ``X-RateLimit-*`` and 429; SSE streaming with ``:)``
on connect and ``event:``/``data:`` lines):

- ``POST /api/v1/apps``, ``POST /oauth/token`` (authorization_code), ``GET /oauth/authorize``
- ``GET /api/v1/instance``, ``GET /api/v2/instance``
- ``GET /api/v1/accounts/verify_credentials``, ``GET /api/v1/accounts/lookup``,
  ``GET /api/v1/accounts/:id``
- ``POST /api/v1/statuses`` (mentions resolved and rendered as Mastodon's h-card markup,
  notifications made, ``Idempotency-Key``), ``GET``/``DELETE /api/v1/statuses/:id``
- ``GET /api/v1/notifications`` (``types[]``, ``since_id``, ``min_id``, ``max_id``,
  ``limit``; newest first, with a ``Link`` header)
- ``GET /api/v1/streaming/user`` and ``/user/notification`` (``notification``, ``delete``)

and, under ``/_standin``, what a test does from outside: make accounts (local or on
another instance), rename one, cut the network for a token, answer 429 for a while, wipe
everything. Mastodon itself never renames a username: the rename models a server that
does, or a test of keys that must not depend on it.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

LOCAL_DOMAIN = "mastodon.test"  # Mastodon's LOCAL_DOMAIN; served from 127.0.0.1:port
VERSION = "4.3.0"
# Mastodon's streaming server sends a comment every 15 s; sooner here, so a client that
# closes its stream (which waits for the next bytes) is done at once.
HEARTBEAT_S = 0.5

# Mastodon's own (app/models/account.rb MENTION_RE, simplified to ASCII word characters).
_MENTION = re.compile(
    r"(?<![=/\w])@(([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@([\w.-]+\w+))?)", re.I
)
_HASHTAG = re.compile(r"(?<![=/\w])#(\w+)")
_URL = re.compile(r"https?://[^\s<]+[^\s<.,:;\"')\]]")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Account:
    id: str
    username: str
    domain: str | None  # None: local to this instance
    display_name: str
    created_at: datetime
    bot: bool = False

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"

    @property
    def url(self) -> str:
        return f"https://{self.domain or LOCAL_DOMAIN}/@{self.username}"

    def entity(self) -> dict[str, Any]:
        day = self.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
        return {
            "id": self.id,
            "username": self.username,
            "acct": self.acct,
            "display_name": self.display_name,
            "locked": False,
            "bot": self.bot,
            "discoverable": True,
            "group": False,
            "created_at": _iso(day),
            "note": "",
            "url": self.url,
            "uri": f"https://{self.domain or LOCAL_DOMAIN}/users/{self.username}",
            "avatar": f"https://{LOCAL_DOMAIN}/avatars/original/missing.png",
            "avatar_static": f"https://{LOCAL_DOMAIN}/avatars/original/missing.png",
            "header": f"https://{LOCAL_DOMAIN}/headers/original/missing.png",
            "header_static": f"https://{LOCAL_DOMAIN}/headers/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 0,
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }


@dataclass
class Status:
    id: str
    account: Account
    text: str
    content: str
    visibility: str
    mentions: list[Account]
    tags: list[str]
    in_reply_to: Status | None
    created_at: datetime

    def visible_to(self, viewer: Account | None) -> bool:
        if self.visibility in ("public", "unlisted"):
            return True
        return viewer is not None and (viewer is self.account or viewer in self.mentions)

    def entity(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": f"https://{LOCAL_DOMAIN}/users/{self.account.username}/statuses/{self.id}",
            "url": f"https://{LOCAL_DOMAIN}/@{self.account.username}/{self.id}",
            "created_at": _iso(self.created_at),
            "edited_at": None,
            "account": self.account.entity(),
            "content": self.content,
            "visibility": self.visibility,
            "sensitive": False,
            "spoiler_text": "",
            "media_attachments": [],
            "application": None,
            "mentions": [
                {"id": m.id, "username": m.username, "url": m.url, "acct": m.acct}
                for m in self.mentions
            ],
            "tags": [
                {"name": t.lower(), "url": f"https://{LOCAL_DOMAIN}/tags/{t.lower()}"}
                for t in self.tags
            ],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "in_reply_to_id": self.in_reply_to.id if self.in_reply_to else None,
            "in_reply_to_account_id": self.in_reply_to.account.id if self.in_reply_to else None,
            "reblog": None,
            "poll": None,
            "card": None,
            "language": "fr",
            "text": None,
        }


@dataclass
class Notification:
    id: str
    recipient: Account
    type: str
    account: Account
    status: Status
    created_at: datetime

    def entity(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "group_key": f"ungrouped-{self.id}",
            "created_at": _iso(self.created_at),
            "account": self.account.entity(),
            "status": self.status.entity(),
        }


@dataclass
class State:
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    accounts: dict[str, Account] = field(default_factory=dict)
    tokens: dict[str, Account] = field(default_factory=dict)
    statuses: dict[str, Status] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    idempotency: dict[tuple[str, str], Status] = field(default_factory=dict)
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)  # client_id -> app
    codes: dict[str, tuple[str, Account, str]] = field(default_factory=dict)
    streams: dict[str, list[asyncio.Queue[str | None]]] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)  # tokens the network does not answer
    limited_posts: int = 0  # the next N POST /api/v1/statuses answer 429
    limited_reset_s: float = 1.0
    posts_seen: int = 0

    def new_id(self) -> str:
        # Snowflake-like: long decimal strings, compared by Mastodon as numbers.
        return str(110_000_000_000_000_000 + next(self.ids) * 65_536)


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _render(state: State, text: str, author: Account) -> tuple[str, list[Account], list[str]]:
    """Mastodon's HTML for a plain-text status: paragraphs, h-card mentions, hashtags, links."""
    mentioned: list[Account] = []
    tags: list[str] = []

    def account_for(username: str, domain: str | None) -> Account | None:
        if domain is not None and domain.lower() == LOCAL_DOMAIN:
            domain = None
        for account in state.accounts.values():
            if account.username.lower() == username.lower() and (
                (account.domain or "").lower() == (domain or "").lower()
            ):
                return account
        if domain is None and author.domain is not None:
            return None  # a remote author's "@bob" means their bob, unknown here
        return None

    def piece(chunk: str) -> str:
        out: list[str] = []
        position = 0
        pattern = re.compile(f"{_URL.pattern}|{_MENTION.pattern}|{_HASHTAG.pattern}", re.I)
        for match in pattern.finditer(chunk):
            out.append(html.escape(chunk[position : match.start()], quote=False))
            token = match.group(0)
            if token.startswith("@"):
                username, domain = match.group(2), match.group(3)
                account = account_for(username, domain)
                if account is None:
                    out.append(html.escape(token, quote=False))
                else:
                    if account not in mentioned:
                        mentioned.append(account)
                    out.append(
                        f'<span class="h-card" translate="no"><a href="{account.url}" '
                        f'class="u-url mention">@<span>{html.escape(account.username)}'
                        "</span></a></span>"
                    )
            elif token.startswith("#"):
                tag = match.group(4)
                tags.append(tag)
                out.append(
                    f'<a href="https://{LOCAL_DOMAIN}/tags/{tag.lower()}" '
                    f'class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>'
                )
            else:
                scheme, rest = token.split("://", 1)
                shown, hidden = rest[:30], rest[30:]
                out.append(
                    f'<a href="{html.escape(token)}" target="_blank" rel="nofollow noopener" '
                    f'translate="no"><span class="invisible">{scheme}://</span>'
                    f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                    f'<span class="invisible">{html.escape(hidden)}</span></a>'
                )
            position = match.end()
        out.append(html.escape(chunk[position:], quote=False))
        return "".join(out)

    paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p]
    content = "".join(
        "<p>" + "<br />".join(piece(line) for line in p.split("\n")) + "</p>" for p in paragraphs
    )
    return content, mentioned, tags


def create_standin() -> FastAPI:
    api = FastAPI(title="Mastodon stand-in (tests only)")
    state = State()
    api.state.standin = state

    def me(request: Request) -> Account | None:
        auth = request.headers.get("authorization", "")
        return state.tokens.get(auth.removeprefix("Bearer ").strip()) if auth else None

    def token_of(request: Request) -> str:
        return request.headers.get("authorization", "").removeprefix("Bearer ").strip()

    @api.middleware("http")
    async def network(request: Request, call_next: Any) -> Response:
        if token_of(request) in state.down:
            return _error(503, "Service Unavailable")
        response: Response = await call_next(request)
        return response

    def push(account: Account, event: str, data: str) -> None:
        for queue in state.streams.get(account.id, []):
            queue.put_nowait(f"event: {event}\ndata: {data}\n\n")

    # --- the outside world (tests) ----------------------------------------------

    @api.post("/_standin/reset")
    async def reset() -> dict[str, str]:
        for queues in state.streams.values():
            for queue in queues:
                queue.put_nowait(None)
        fresh = State()
        for name in State.__dataclass_fields__:
            setattr(state, name, getattr(fresh, name))
        return {}

    @api.post("/_standin/accounts")
    async def make_account(request: Request) -> dict[str, Any]:
        body = await request.json()
        account = Account(
            state.new_id(),
            body["username"],
            body.get("domain"),
            body.get("display_name", body["username"].title()),
            datetime.now(UTC) - timedelta(days=int(body.get("age_days", 400))),
            bot=bool(body.get("bot", False)),
        )
        state.accounts[account.id] = account
        token = secrets.token_urlsafe(24)
        state.tokens[token] = account
        return {"account": account.entity(), "token": token}

    @api.post("/_standin/accounts/{account_id}/rename")
    async def rename(account_id: str, request: Request) -> dict[str, Any]:
        account = state.accounts[account_id]
        account.username = (await request.json())["username"]
        return account.entity()

    @api.post("/_standin/outage")
    async def outage(request: Request) -> dict[str, Any]:
        body = await request.json()
        token = body["token"]
        if body["down"]:
            state.down.add(token)
            for queue in state.streams.get(state.tokens[token].id, []):
                queue.put_nowait(None)  # the connection drops
        else:
            state.down.discard(token)
        return {}

    @api.post("/_standin/hangup")
    async def hangup(request: Request) -> dict[str, Any]:
        """Every open stream of the token's account ends (a streaming server restart)."""
        account = state.tokens[(await request.json())["token"]]
        for queue in state.streams.get(account.id, []):
            queue.put_nowait(None)
        return {}

    @api.post("/_standin/ratelimit")
    async def ratelimit(request: Request) -> dict[str, Any]:
        body = await request.json()
        state.limited_posts = int(body["posts"])
        state.limited_reset_s = float(body.get("reset_s", 1.0))
        return {}

    @api.get("/_standin/stats")
    async def stats() -> dict[str, Any]:
        return {
            "posts_seen": state.posts_seen,
            "streams": {k: len(v) for k, v in state.streams.items() if v},
        }

    # --- instance -----------------------------------------------------------------

    @api.get("/api/v1/instance")
    async def instance_v1(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "uri": LOCAL_DOMAIN,
            "title": "Mastodon stand-in",
            "version": VERSION,
            "urls": {"streaming_api": base.replace("http", "ws", 1)},
        }

    @api.get("/api/v2/instance")
    async def instance_v2(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "domain": LOCAL_DOMAIN,
            "title": "Mastodon stand-in",
            "version": VERSION,
            "source_url": "https://github.com/mastodon/mastodon",
            "configuration": {
                "urls": {"streaming": base.replace("http", "ws", 1)},
                "statuses": {"max_characters": 500},
                "timelines_access": {
                    "live_feeds": {"local": "public", "remote": "public"},
                    "hashtag_feeds": {"local": "public", "remote": "public"},
                    "trending_link_feeds": {"local": "public", "remote": "public"},
                },
            },
        }

    # --- OAuth ------------------------------------------------------------------------

    @api.post("/api/v1/apps")
    async def create_app(request: Request) -> dict[str, Any]:
        form = dict(await request.form()) or await request.json()
        client_id = secrets.token_urlsafe(16)
        app = {
            "id": state.new_id(),
            "name": form.get("client_name", ""),
            "website": form.get("website"),
            "redirect_uri": form.get("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
            "redirect_uris": [form.get("redirect_uris", "urn:ietf:wg:oauth:2.0:oob")],
            "scopes": str(form.get("scopes", "read")).split(),
            "client_id": client_id,
            "client_secret": secrets.token_urlsafe(32),
            "vapid_key": "",
        }
        state.apps[client_id] = app
        return app

    @api.get("/oauth/authorize", response_model=None)
    async def authorize(request: Request) -> Response:
        """The user (who the bearer token says; a browser session in Mastodon) approves."""
        user = me(request)
        query = request.query_params
        app = state.apps.get(query.get("client_id", ""))
        if user is None:
            return _error(401, "Sign in first (stand-in: send the user's bearer token)")
        if app is None or query.get("redirect_uri") not in app["redirect_uris"]:
            return _error(400, "invalid_client")
        code = secrets.token_urlsafe(16)
        state.codes[code] = (app["client_id"], user, query["redirect_uri"])
        target = f"{query['redirect_uri']}?code={code}"
        if query.get("state"):
            target += f"&state={query['state']}"
        return RedirectResponse(target, status_code=302)

    @api.post("/oauth/token")
    async def token(request: Request) -> Response:
        form = dict(await request.form())
        issued = state.codes.pop(str(form.get("code", "")), None)
        app = state.apps.get(str(form.get("client_id", "")))
        if (
            form.get("grant_type") != "authorization_code"
            or issued is None
            or app is None
            or app["client_secret"] != form.get("client_secret")
            or issued[0] != app["client_id"]
            or issued[2] != form.get("redirect_uri")
        ):
            return JSONResponse(
                {
                    "error": "invalid_grant",
                    "error_description": "The provided authorization grant is invalid, "
                    "expired, revoked, does not match the redirection URI used in the "
                    "authorization request, or was issued to another client.",
                },
                status_code=400,
            )
        access = secrets.token_urlsafe(24)
        state.tokens[access] = issued[1]
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "scope": form.get("scope", "read"),
                "created_at": int(time.time()),
            }
        )

    # --- accounts -----------------------------------------------------------------------

    @api.get("/api/v1/accounts/verify_credentials")
    async def verify_credentials(request: Request) -> Response:
        user = me(request)
        if user is None:
            return _error(401, "The access token is invalid")
        return JSONResponse({**user.entity(), "source": {"privacy": "public", "note": ""}})

    @api.get("/api/v1/accounts/lookup")
    async def lookup(acct: str) -> Response:
        username, _, domain = acct.removeprefix("@").partition("@")
        if domain.lower() == LOCAL_DOMAIN:
            domain = ""
        for account in state.accounts.values():
            if account.username.lower() == username.lower() and (
                (account.domain or "").lower() == domain.lower()
            ):
                return JSONResponse(account.entity())
        return _error(404, "Record not found")

    @api.get("/api/v1/accounts/{account_id}")
    async def account(account_id: str) -> Response:
        found = state.accounts.get(account_id)
        return JSONResponse(found.entity()) if found else _error(404, "Record not found")

    # --- statuses ---------------------------------------------------------------------

    @api.post("/api/v1/statuses")
    async def post_status(request: Request) -> Response:  # noqa: PLR0911 - each refusal
        user = me(request)
        if user is None:
            return _error(401, "The access token is invalid")
        state.posts_seen += 1
        if state.limited_posts > 0:
            state.limited_posts -= 1
            reset = datetime.now(UTC) + timedelta(seconds=state.limited_reset_s)
            return _error(
                429,
                "Too many requests",
                **{
                    "X-RateLimit-Limit": "300",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": _iso(reset),
                    "Date": format_datetime(datetime.now(UTC), usegmt=True),
                },
            )
        key = request.headers.get("idempotency-key")
        if key and (user.id, key) in state.idempotency:
            return JSONResponse(state.idempotency[(user.id, key)].entity())
        if "json" in request.headers.get("content-type", ""):
            body = await request.json()
        else:
            body = dict(await request.form())
        text = str(body.get("status", ""))
        if not text.strip():
            return _error(422, "Validation failed: Text can't be blank")
        if len(text) > 500:
            return _error(422, "Validation failed: Text character limit of 500 exceeded")
        visibility = str(body.get("visibility") or "public")
        if visibility not in ("public", "unlisted", "private", "direct"):
            return _error(422, "Validation failed: Visibility is not included in the list")
        parent = state.statuses.get(str(body.get("in_reply_to_id") or ""))
        if body.get("in_reply_to_id") and (parent is None or not parent.visible_to(user)):
            return _error(404, "Record not found")
        content, mentioned, tags = _render(state, text, user)
        status = Status(
            state.new_id(),
            user,
            text,
            content,
            visibility,
            mentioned,
            tags,
            parent,
            datetime.now(UTC),
        )
        state.statuses[status.id] = status
        if key:
            state.idempotency[(user.id, key)] = status
        for account in mentioned:
            if account is user or account.domain is not None:
                continue  # remote accounts are told by their own server
            note = Notification(state.new_id(), account, "mention", user, status, status.created_at)
            state.notifications.append(note)
            push(account, "notification", json.dumps(note.entity()))
        return JSONResponse(status.entity())

    @api.get("/api/v1/statuses/{status_id}")
    async def get_status(status_id: str, request: Request) -> Response:
        status = state.statuses.get(status_id)
        if status is None or not status.visible_to(me(request)):
            return _error(404, "Record not found")
        return JSONResponse(status.entity())

    @api.delete("/api/v1/statuses/{status_id}")
    async def delete_status(status_id: str, request: Request) -> Response:
        user = me(request)
        status = state.statuses.get(status_id)
        if status is None or user is None or status.account is not user:
            return _error(404, "Record not found")
        del state.statuses[status_id]
        # Mastodon's RemoveStatusService: notifications go, and the deletion is pushed
        # to the author's and every mentioned local account's user stream.
        state.notifications = [n for n in state.notifications if n.status is not status]
        for account in {user.id: user, **{m.id: m for m in status.mentions}}.values():
            push(account, "delete", status.id)
        return JSONResponse({**status.entity(), "text": status.text})

    # --- notifications ----------------------------------------------------------------

    @api.get("/api/v1/notifications")
    async def notifications(request: Request) -> Response:
        user = me(request)
        if user is None:
            return _error(401, "The access token is invalid")
        query = request.query_params
        types = query.getlist("types[]") or query.getlist("types")
        mine = [n for n in state.notifications if n.recipient is user]
        if types:
            mine = [n for n in mine if n.type in types]
        limit = min(int(query.get("limit") or 40), 80)
        newest_first = sorted(mine, key=lambda n: int(n.id), reverse=True)
        if query.get("max_id"):
            newest_first = [n for n in newest_first if int(n.id) < int(query["max_id"])]
        if query.get("since_id"):
            newest_first = [n for n in newest_first if int(n.id) > int(query["since_id"])]
        if query.get("min_id"):
            # The page immediately after min_id (still returned newest first).
            after = [n for n in reversed(newest_first) if int(n.id) > int(query["min_id"])]
            page = list(reversed(after[:limit]))
        else:
            page = newest_first[:limit]
        headers = {}
        if page:
            base = f"{str(request.base_url).rstrip('/')}/api/v1/notifications"
            headers["Link"] = (
                f'<{base}?max_id={page[-1].id}>; rel="next", '
                f'<{base}?min_id={page[0].id}>; rel="prev"'
            )
        return JSONResponse([n.entity() for n in page], headers=headers)

    # --- streaming (SSE) ----------------------------------------------------------------

    async def stream(request: Request, kinds: set[str]) -> Response:
        user = me(request)
        if user is None:
            return _error(401, "Error: Missing access token")
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        state.streams.setdefault(user.id, []).append(queue)

        async def events() -> AsyncIterator[str]:
            try:
                yield ":)\n"  # what Mastodon's streaming server sends on connect
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                    except TimeoutError:
                        yield ":thump\n"
                        continue
                    if item is None:
                        return
                    if item.split("\n", 1)[0].removeprefix("event: ") in kinds:
                        yield item
            finally:
                if queue in state.streams.get(user.id, []):
                    state.streams[user.id].remove(queue)

        return StreamingResponse(events(), media_type="text/event-stream")

    @api.get("/api/v1/streaming/user", response_model=None)
    async def stream_user(request: Request) -> Response:
        return await stream(request, {"update", "notification", "delete"})

    @api.get("/api/v1/streaming/user/notification", response_model=None)
    async def stream_notifications(request: Request) -> Response:
        return await stream(request, {"notification"})

    return api


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_standin() -> Iterator[str]:
    """The stand-in on a free port of 127.0.0.1, for as long as the block lasts."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_standin(), host="127.0.0.1", port=port, log_level="warning", loop="asyncio"
        )
    )
    thread = threading.Thread(target=server.run, name="mastodon-standin", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Mastodon stand-in did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
