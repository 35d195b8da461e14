"""Catch-up polling: mentions (``/2/users/:id/mentions`` with ``since_id``) and DMs
(``/2/dm_events``), for what the webhook missed while envoi was down.

The webhook brings everything for free; each post this reads is billed, so it runs at
start and then every ``ENVOI_X__POLL_INTERVAL_S``, and not at all while the day's budget
is spent. The cursor is JSON: the newest mention id and the newest DM event id seen.
X ids are time-ordered (snowflakes): with no cursor yet, reading starts from now.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from envoi.adapters.networks.x.api import XApi
from envoi.adapters.networks.x.payloads import NETWORK, dm_posts, mention_posts, snowflake_at
from envoi.adapters.networks.x.spend import SpendMeter
from envoi.services.ports import InboundPost, NetworkEvent, ReadBatch

log = structlog.get_logger(__name__)

_MAX_PAGES = 20  # 2,000 posts a poll at most; the rest comes next time


class XReader:
    name = NETWORK

    def __init__(
        self,
        api: XApi,
        meter: SpendMeter,
        bot_user_id: str,
        *,
        poll_interval_s: float,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.meter = meter
        self.bot_user_id = bot_user_id
        self.poll_interval_s = poll_interval_s
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._next_poll = 0.0  # at start: catch up at once

    def read(self, cursor: str | None, wait_s: float) -> ReadBatch:
        wait = self._next_poll - self._monotonic()
        if wait > 0:
            self._sleep(min(wait, wait_s))
            return ReadBatch((), cursor)
        state: dict[str, str] = json.loads(cursor) if cursor else {}
        start = str(snowflake_at(self._wall_clock()))
        mentions_since = state.get("mentions", start)
        dms_after = state.get("dms", start)
        if not self.meter.can_spend():
            log.warning("x.poll_skipped", reason="daily budget reached")
            self._next_poll = self._monotonic() + self.poll_interval_s
            return ReadBatch((), cursor)
        mention_events, newest_mention = self._mentions(mentions_since)
        dm_events, newest_dm = self._dms(dms_after)
        self._next_poll = self._monotonic() + self.poll_interval_s
        new_cursor = json.dumps({"mentions": newest_mention, "dms": newest_dm}, sort_keys=True)
        return ReadBatch(tuple(mention_events + dm_events), new_cursor)

    def _mentions(self, since_id: str) -> tuple[list[NetworkEvent], str]:
        newest, token = since_id, None
        pages: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            body = self.api.mentions(self.bot_user_id, since_id, token)
            meta = body.get("meta") or {}
            if not pages and meta.get("newest_id"):
                newest = str(meta["newest_id"])
            pages.append(body)
            token = meta.get("next_token")
            if not token:
                break
        events = [
            NetworkEvent(post=post)
            for body in pages
            for post in mention_posts(body, self.bot_user_id)
        ]
        events.sort(key=lambda e: int(e.post.post_id) if e.post else 0)  # oldest first
        return events, newest

    def _dms(self, after_id: str) -> tuple[list[NetworkEvent], str]:
        newest, token = int(after_id), None
        fresh: list[InboundPost] = []
        for _ in range(_MAX_PAGES):
            body = self.api.dm_events(token)
            items: list[dict[str, Any]] = list(body.get("data") or ())
            newer = [item for item in items if int(item["id"]) > int(after_id)]
            fresh.extend(dm_posts({**body, "data": newer}, self.bot_user_id))
            newest = max([newest, *(int(item["id"]) for item in newer)])
            token = (body.get("meta") or {}).get("next_token")
            if not token or len(newer) < len(items):
                break  # reached what the last poll had already seen
        fresh.sort(key=lambda post: int(post.post_id))
        return [NetworkEvent(post=post) for post in fresh], str(newest)
