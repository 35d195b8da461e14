"""Mentions of the bot and direct statuses to it, from Mastodon's notifications.

The cursor is the id of the last mention notification stored. Each read first catches up
with ``GET /api/v1/notifications?types[]=mention&min_id=<cursor>`` page by page, oldest
first (``min_id`` pages forward from the cursor; ``since_id`` would return the newest page
and skip the middle of a long backlog), so a restart or a dropped stream loses nothing.
When there is nothing new it waits on the streaming API for up to ``wait_s``.

The stream is ``user`` (SSE ``/api/v1/streaming/user``), not only ``user:notification``:
Mastodon pushes the deletion of a status to the user streams of the accounts it mentioned
(``delete`` events, RemoveStatusService) and removes its notifications, so the user stream
is the only way a deleted command reaches the bot. A notification event only wakes the
read, which then catches up by polling (one order, no gaps, no second path). Deletions
that happen while the stream is down are not seen: the payer can still cancel in the
wallet, and an unconfirmed payment expires.

With no cursor yet (a new deployment) the read starts from the newest notification: old
mentions of the bot are not commands for envoi.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import structlog
from mastodon import StreamListener

from envoi.adapters.networks.mastodon.api import MastodonApi, entity_id
from envoi.adapters.networks.mastodon.posts import NETWORK, inbound_post
from envoi.services.ports import NetworkEvent, ReadBatch

log = structlog.get_logger(__name__)

PAGE = 40  # Mastodon's default and documented maximum for notifications is 80


class _Listener(StreamListener):
    def __init__(self, reader: MastodonReader) -> None:
        super().__init__()
        self.reader = reader

    def on_notification(self, notification: Any) -> None:
        if notification.type == "mention":
            self.reader._wake.set()

    def on_delete(self, status_id: Any) -> None:
        self.reader._deleted.put(entity_id(status_id))
        self.reader._wake.set()

    def handle_heartbeat(self) -> None:  # ":)" on connect, then keep-alive comments
        self.reader._connected.set()

    def on_abort(self, err: Exception) -> None:
        self.reader._connected.clear()
        log.info("mastodon.stream_dropped", error=str(err))

    def on_unknown_event(self, name: str, unknown_event: Any = None) -> None:
        pass  # newer servers add event kinds: not ours


class MastodonReader:
    """``NetworkReader`` for Mastodon (the bot's account on its instance)."""

    name = NETWORK

    def __init__(
        self, api: MastodonApi, *, stream: bool = True, connect_wait_s: float = 5.0
    ) -> None:
        self.api = api
        self.stream = stream
        self.connect_wait_s = connect_wait_s
        self._bot_id: str | None = None
        self._handle: Any = None
        self._wake = threading.Event()
        self._connected = threading.Event()
        self._deleted: queue.Queue[str] = queue.Queue()

    def read(self, cursor: str | None, wait_s: float) -> ReadBatch:
        if self.stream:
            self._ensure_stream()
        if cursor is None:
            newest = self.api.call(self.api.client.notifications, types=["mention"], limit=1)
            return ReadBatch((), entity_id(newest[0].id) if newest else "0")
        self._wake.clear()
        events, cursor = self._catch_up(cursor)
        deleted = self._drain()
        nothing = not events and not deleted
        if nothing and wait_s > 0 and self.stream and self._wake.wait(wait_s):
            events, cursor = self._catch_up(cursor)
            deleted = self._drain()
        return ReadBatch(tuple(events + deleted), cursor)

    def _catch_up(self, cursor: str) -> tuple[list[NetworkEvent], str]:
        events: list[NetworkEvent] = []
        bot_id = self._bot()
        while True:
            page = self.api.call(
                self.api.client.notifications, types=["mention"], min_id=cursor, limit=PAGE
            )
            if not page:
                return events, cursor
            for note in sorted(page, key=lambda n: int(entity_id(n.id))):
                cursor = entity_id(note.id)
                status = note.status
                if note.type != "mention" or status is None:
                    continue
                if entity_id(status.account.id) == bot_id or status.reblog is not None:
                    continue  # never our own words, never a boost
                events.append(NetworkEvent(post=inbound_post(self.api, status)))
            if len(page) < PAGE:
                return events, cursor

    def _drain(self) -> list[NetworkEvent]:
        deleted: list[NetworkEvent] = []
        while True:
            try:
                deleted.append(NetworkEvent(deleted_post_id=self._deleted.get_nowait()))
            except queue.Empty:
                return deleted

    def _bot(self) -> str:
        if self._bot_id is None:
            me = self.api.call(self.api.client.account_verify_credentials)
            self._bot_id = entity_id(me.id)
        return self._bot_id

    def _ensure_stream(self) -> None:
        if self._handle is not None and self._handle.is_alive():
            return
        self._connected.clear()
        self._handle = self.api.client.stream_user(
            _Listener(self), run_async=True, reconnect_async=True, reconnect_async_wait_sec=5
        )
        # Deletions are only seen while connected: give the connection a moment.
        self._connected.wait(self.connect_wait_s)

    def close(self) -> None:
        """Stop streaming; the stream's thread ends with its connection (``join``)."""
        if self._handle is not None:
            self._handle.close()

    def join(self, timeout_s: float) -> None:
        if self._handle is not None:
            self._handle.join(timeout_s)
            self._handle = None
