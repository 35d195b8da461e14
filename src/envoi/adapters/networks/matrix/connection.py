"""The bot's one Matrix session (matrix-nio) in a process, for its reader and its gateway.

matrix-nio is asyncio; envoi's services are synchronous and run in threads. The session
lives on an event loop of its own, in a daemon thread, and the synchronous callers hand
it coroutines. One session per process matters for end-to-end encryption: the bot's
device keys and Megolm sessions live in one store, used by one client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import structlog
from nio import AsyncClient, AsyncClientConfig, WhoamiError

log = structlog.get_logger(__name__)

T = TypeVar("T")

NETWORK = "matrix"


class MatrixUnavailableError(Exception):
    """The homeserver could not be reached or refused: the caller retries later."""


class MatrixConnection:
    def __init__(
        self,
        homeserver_url: str,
        user_id: str,
        access_token: str,
        *,
        device_id: str | None = None,
        store_path: str | None = None,
        request_timeout_s: float = 60.0,
    ) -> None:
        self.homeserver_url = homeserver_url
        self.user_id = user_id
        self._access_token = access_token
        self._device_id = device_id
        self.store_path = store_path
        self.encrypted = store_path is not None
        self._request_timeout_s = request_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="envoi-matrix", daemon=True
        )
        self._thread.start()
        self._client: AsyncClient | None = None
        self._ready = threading.Lock()
        # Serialises the client's use: a sync and a send never interleave their
        # bookkeeping (room state, Olm sessions) half-way.
        self._turn: asyncio.Lock | None = None

    def run(self, work: Callable[[AsyncClient], Awaitable[T]], timeout_s: float = 120.0) -> T:
        """Run ``work(client)`` on the session's loop.

        Raises ``MatrixUnavailableError`` when the homeserver cannot be reached."""
        client = self._client_ready()

        async def turn() -> T:
            assert self._turn is not None
            async with self._turn:
                return await work(client)

        future: Future[T] = asyncio.run_coroutine_threadsafe(turn(), self._loop)
        try:
            return future.result(timeout_s)
        except (OSError, TimeoutError) as exc:
            future.cancel()
            raise MatrixUnavailableError(str(exc) or type(exc).__name__) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("aiohttp"):
                raise MatrixUnavailableError(str(exc)) from exc
            raise

    def _client_ready(self) -> AsyncClient:
        with self._ready:
            if self._client is None:
                self._client = asyncio.run_coroutine_threadsafe(self._login(), self._loop).result(
                    self._request_timeout_s
                )
            return self._client

    async def _login(self) -> AsyncClient:
        self._turn = asyncio.Lock()
        config = AsyncClientConfig(
            encryption_enabled=self.encrypted,
            store_sync_tokens=False,  # envoi's own cursor, in its database, is the truth
            request_timeout=self._request_timeout_s,
            max_timeouts=0,  # envoi's ingest loop retries, with backoff and jitter
        )
        if self.store_path:
            Path(self.store_path).mkdir(parents=True, exist_ok=True, mode=0o700)
        client = AsyncClient(
            self.homeserver_url,
            self.user_id,
            device_id=self._device_id,
            store_path=self.store_path or "",
            config=config,
        )
        client.access_token = self._access_token
        device_id = self._device_id
        if device_id is None:
            who = await client.whoami()
            if isinstance(who, WhoamiError):
                await client.close()
                raise MatrixUnavailableError(f"whoami: {who.message}")
            device_id = who.device_id
        assert device_id is not None
        client.restore_login(self.user_id, device_id, self._access_token)
        if self.encrypted and client.should_upload_keys:
            await client.keys_upload()
        log.info("matrix.session", user_id=self.user_id, device_id=device_id, e2e=self.encrypted)
        return client

    async def maintain_keys(self, client: AsyncClient) -> None:
        """What ``sync_forever`` does between syncs for end-to-end encryption."""
        if not self.encrypted:
            return
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    def close(self) -> None:
        if self._client is not None:
            client = self._client
            asyncio.run_coroutine_threadsafe(client.close(), self._loop).result(10)
            self._client = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()


def error_text(response: Any) -> str:
    """What an nio error response says, for logs and exceptions."""
    return f"{getattr(response, 'status_code', '')} {getattr(response, 'message', response)}"
