"""In-app notifications and the outbox of network replies and DMs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from envoi.adapters.db.rows import aware, insert_once, utc
from envoi.adapters.db.tables import notifications, outbox
from envoi.services.secrets import new_id


class SqlNotices:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def notify(
        self,
        member_id: str,
        code: str,
        params: dict[str, Any],
        *,
        intent_id: str | None,
        now: datetime,
    ) -> None:
        self.conn.execute(
            notifications.insert().values(
                id=new_id("ntf"),
                member_id=member_id,
                code=code,
                params=params,
                intent_id=intent_id,
                created_at=utc(now),
            )
        )

    def enqueue(
        self, *, kind: str, network: str, target: str, text: str, dedupe_key: str, now: datetime
    ) -> None:
        insert_once(
            self.conn,
            outbox,
            {
                "id": new_id("out"),
                "dedupe_key": dedupe_key,
                "kind": kind,
                "network": network,
                "target": target,
                "text": text,
                "created_at": utc(now),
                "next_attempt_at": utc(now),
            },
        )

    def notifications(self, member_id: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(notifications)
            .where(notifications.c.member_id == member_id)
            .order_by(notifications.c.created_at.desc(), notifications.c.id)
            .limit(limit)
        ).mappings()
        return [
            {
                "id": r["id"],
                "code": r["code"],
                "params": dict(r["params"]),
                "intent_id": r["intent_id"],
                "created_at": aware(r["created_at"]),
                "read": r["read_at"] is not None,
            }
            for r in rows
        ]

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
        query = (
            select(outbox)
            .where(
                outbox.c.delivered_at.is_(None),
                outbox.c.failed_at.is_(None),
                outbox.c.next_attempt_at <= utc(now),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.created_at)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [dict(r) for r in self.conn.execute(query).mappings()]
        if rows:
            # The lease: nobody else picks these rows until it runs out.
            self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r["id"] for r in rows]))
                .values(next_attempt_at=utc(lease_until), attempts=outbox.c.attempts + 1)
            )
        return rows

    def mark_delivered(self, outbox_id: str, remote_id: str, now: datetime) -> None:
        self.conn.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id)
            .values(delivered_at=utc(now), remote_id=remote_id, last_error=None)
        )

    def defer(self, outbox_id: str, reason: str, retry_at: datetime) -> None:
        self.conn.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id)
            .values(
                next_attempt_at=utc(retry_at),
                attempts=outbox.c.attempts - 1,
                last_error=reason[:2000],
            )
        )

    def mark_failed(
        self, outbox_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        values: dict[str, Any] = {"last_error": error[:2000]}
        if retry_at is None:
            values["failed_at"] = utc(now)
        else:
            values["next_attempt_at"] = utc(retry_at)
        self.conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(values))
