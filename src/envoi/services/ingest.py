"""One network's reader feeding the intake, resuming from its stored cursor.

The read (network I/O) happens with no transaction open; each event is then stored by
the intake in a transaction of its own (idempotent per network and post id); the cursor
moves last. A crash or an outage anywhere in between reads the same events again:
nothing is lost and nothing is paid twice.
"""

from __future__ import annotations

import structlog

from envoi.services.ports import CursorStore, InboundPort, NetworkReader

log = structlog.get_logger(__name__)


class Ingest:
    def __init__(
        self,
        reader: NetworkReader,
        inbound: InboundPort,
        cursors: CursorStore,
        *,
        wait_s: float = 30.0,
    ) -> None:
        self.reader = reader
        self.inbound = inbound
        self.cursors = cursors
        self.wait_s = wait_s

    @property
    def network(self) -> str:
        return self.reader.name

    def step(self) -> int:
        """Read once, store what came, then move the cursor; returns the events stored.

        Raises when the network (or the database) fails: the cursor has not moved.
        """
        cursor = self.cursors.load(self.network)
        batch = self.reader.read(cursor, self.wait_s)
        for event in batch.events:
            if event.post is not None:
                self.inbound.receive_post(event.post)
            elif event.deleted_post_id is not None:
                self.inbound.receive_deletion(self.network, event.deleted_post_id)
        if batch.cursor is not None and batch.cursor != cursor:
            self.cursors.save(self.network, batch.cursor)
        if batch.events:
            log.info("ingest.batch", network=self.network, events=len(batch.events))
        return len(batch.events)
