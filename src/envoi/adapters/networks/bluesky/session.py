"""The bot's logged-in session on its PDS, shared by the reader and the writer.

``com.atproto.server.createSession`` is rate-limited (30 per 5 minutes, 300 a day per
account), so the session is opened once and refreshed by the SDK with its refresh token;
with a ``SessionStore`` it is also kept across restarts (every new token saved), so a
restarted process resumes it without logging in. Only a refused session (expired or
revoked refresh token) opens a new one with the app password.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
from atproto_client import Client
from atproto_client.client.session import Session, SessionEvent
from atproto_client.request import Request
from atproto_core.exceptions import AtProtocolError

from envoi.adapters.networks.bluesky import NETWORK

T = TypeVar("T")

# Bluesky's own chat service; a deployment against another one sets its DID.
BSKY_CHAT_DID = "did:web:api.bsky.chat"


class BlueskyUnavailableError(RuntimeError):
    """The PDS or the chat service failed or could not be reached: try again later."""


@dataclass(frozen=True)
class BlueskyConfig:
    service_url: str  # the bot's PDS, e.g. https://bsky.social
    identifier: str  # the bot's handle (or DID)
    app_password: str  # an app password allowed to use direct messages
    chat_did: str = BSKY_CHAT_DID
    timeout_s: float = 30.0


class SessionStore(Protocol):
    """Where the bot's session is kept between runs (sealed: it holds its tokens)."""

    def load_session(self, service_url: str, identifier: str) -> str | None: ...

    def save_session(self, service_url: str, identifier: str, session: str | None) -> None: ...


class BotSession:
    def __init__(self, config: BlueskyConfig, store: SessionStore | None = None) -> None:
        self.config = config
        self.store = store
        self._client: Client | None = None
        self._chat: Client | None = None
        self._lock = threading.Lock()

    def _login(self) -> Client:
        # The SDK's default (5 s) is short for a busy PDS; a read that times out is retried
        # by the ingest loop anyway.
        request = Request(timeout=httpx.Timeout(self.config.timeout_s))
        client = Client(base_url=self.config.service_url, request=request)
        client.on_session_change(self._session_changed)
        saved = self._load()
        if saved is not None:
            # No request: a session that no longer works shows on the first call (see call).
            client.login(session_string=saved, fetch_bsky_profile=False)
        else:
            # No profile fetch: it asks the AppView, which may not know a brand-new bot yet.
            client.login(self.config.identifier, self.config.app_password, fetch_bsky_profile=False)
        return client

    def _load(self) -> str | None:
        if self.store is None:
            return None
        saved = self.store.load_session(self.config.service_url, self.config.identifier)
        if saved is None:
            return None
        try:
            Session.decode(saved)
        except ValueError:
            return None
        return saved

    def _session_changed(self, event: SessionEvent, session: Session) -> None:
        # Each new access/refresh token pair replaces the last (a refresh token is used once).
        if self.store is not None and event is not SessionEvent.IMPORT:
            self.store.save_session(
                self.config.service_url, self.config.identifier, session.encode()
            )

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = self._login()
                # Direct messages go through the PDS, which forwards them to the chat
                # service named in the atproto-proxy header ("<did>#bsky_chat").
                self._chat = self._client.with_proxy("bsky_chat", self.config.chat_did)
            return self._client

    def close(self) -> None:
        with self._lock:
            self._discard()

    def _discard(self) -> None:
        for client in (self._client, self._chat):
            if client is not None:
                client.request.close()
        self._client = self._chat = None

    def chat(self) -> Client:
        self.client()
        assert self._chat is not None
        return self._chat

    @property
    def did(self) -> str:
        session = self.call(self.client)._session  # the SDK keeps the DID there
        assert session is not None
        return str(session.did)

    def call(self, what: Callable[[], T]) -> T:
        """Run one request; network and server failures become ``BlueskyUnavailableError``, and
        an expired session is opened again once."""
        try:
            return what()
        except AtProtocolError as exc:
            if _expired(exc):
                with self._lock:
                    self._discard()
                    if self.store is not None:  # refused: log in with the app password
                        self.store.save_session(
                            self.config.service_url, self.config.identifier, None
                        )
                try:
                    return what()
                except (AtProtocolError, httpx.HTTPError) as again:
                    raise BlueskyUnavailableError(f"{NETWORK}: {again}") from again
            raise BlueskyUnavailableError(f"{NETWORK}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise BlueskyUnavailableError(f"{NETWORK}: {exc}") from exc


def _expired(exc: AtProtocolError) -> bool:
    response: Any = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    error = getattr(content, "error", None)
    return error in ("ExpiredToken", "InvalidToken")


def is_not_found(exc: BaseException) -> bool:
    """A 400 from the PDS or AppView saying the thing asked for does not exist."""
    cause = exc.__cause__ if isinstance(exc, BlueskyUnavailableError) else exc
    response: Any = getattr(cause, "response", None)
    if getattr(response, "status_code", None) != 400:
        return False
    content = getattr(response, "content", None)
    message = f"{getattr(content, 'error', '')} {getattr(content, 'message', '')}".lower()
    clues = ("not found", "notfound", "could not find", "could not locate", "unable to resolve")
    return any(clue in message for clue in clues)
