"""Deliver queued network replies and DMs, with retries and backoff.

Rows are claimed with a lease (SKIP LOCKED on PostgreSQL) so many workers never
send the same row at once; a worker that dies mid-send leaves the lease to expire
and the row is retried. Delivery is therefore at-least-once.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.faults import crash_point
from envoi.services.context import Context
from envoi.services.ports import NetworkBusy

log = structlog.get_logger(__name__)


def idempotency_key(outbox_id: str) -> str:
    """The key the network sees for one outbox row: the same on every retry of that row,
    never the same for two rows (outbox ids are unique)."""
    return f"envoi-{outbox_id}"


class Delivery:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def deliver_due(self, *, limit: int = 50) -> int:
        now = self.ctx.clock.now()
        lease = timedelta(seconds=self.ctx.settings.outbox_lease_s)
        with self.ctx.uow() as uow:
            rows = uow.notices.claim_due(now, now + lease, limit)
            uow.commit()
        crash_point("delivery.claimed")  # leased, nothing sent: the lease must run out
        sent = 0
        for row in rows:
            try:
                gateway = self.ctx.gateway(row["network"])
                key = idempotency_key(str(row["id"]))
                if row["kind"] == "reply":
                    remote_id = gateway.reply(row["target"], row["text"], idempotency_key=key)
                else:
                    remote_id = gateway.direct_message(
                        row["target"], row["text"], idempotency_key=key
                    )
            except NetworkBusy as exc:
                # Rate limited, or the network's spend budget is used up: later, as many
                # times as it takes (the message is not given up for it).
                log.warning("outbox.deferred", outbox_id=row["id"], reason=exc.reason)
                with self.ctx.uow() as uow:
                    uow.notices.defer(str(row["id"]), exc.reason, exc.retry_at)
                    uow.commit()
                continue
            except (EnvoiError, OSError, RuntimeError, ValueError) as exc:
                self._failed(row, exc, final=_target_gone(row, exc))
                continue
            crash_point("delivery.sent")  # on the network, not marked: the key saves us
            with self.ctx.uow() as uow:
                uow.notices.mark_delivered(row["id"], remote_id, self.ctx.clock.now())
                uow.commit()
            sent += 1
            crash_point("delivery.mid_batch")  # some rows of the batch done, some leased
        return sent

    def _failed(self, row: dict[str, object], exc: Exception, *, final: bool) -> None:
        attempts = int(str(row["attempts"])) + 1
        now = self.ctx.clock.now()
        give_up = final or attempts >= self.ctx.settings.outbox_max_attempts
        retry_at = None if give_up else now + timedelta(seconds=min(3600, 2**attempts))
        log.warning("outbox.failed", outbox_id=row["id"], attempts=attempts, error=str(exc))
        with self.ctx.uow() as uow:
            uow.notices.mark_failed(str(row["id"]), repr(exc), retry_at, now)
            uow.commit()


def _target_gone(row: dict[str, object], exc: Exception) -> bool:
    """A reply to a post deleted since can never be delivered: given up at once rather
    than retried for minutes (the payer still has the in-app notification)."""
    return (
        row["kind"] == "reply"
        and isinstance(exc, EnvoiError)
        and exc.code is ErrorCode.POST_NOT_FOUND
    )
