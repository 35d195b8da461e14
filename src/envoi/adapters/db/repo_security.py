"""Sign-in and sign-up throttles in the database (shared by every API process)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, case, delete, select, update

from envoi.adapters.db.rows import aware, insert_once, utc
from envoi.adapters.db.security_tables import auth_throttle as t
from envoi.services.unit_of_work import ThrottleState


class SqlThrottle:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock(self, key: str, scope: str, now: datetime) -> ThrottleState:
        # Created on first use, then locked until the transaction ends: concurrent
        # attempts on one key take turns (on SQLite the write lock does the same).
        insert_once(
            self.conn, t, {"key": key, "scope": scope, "count": 0, "window_start": utc(now)}
        )
        row = self.conn.execute(
            select(t.c.count, t.c.window_start, t.c.blocked_until)
            .where(t.c.key == key)
            .with_for_update()
        ).one()
        return _state(*row)

    def count(self, key: str, now: datetime, window: timedelta) -> ThrottleState:
        """One more in the window (a window older than ``window`` starts again at 1)."""
        stale = t.c.window_start <= utc(now - window)
        row = self.conn.execute(
            update(t)
            .where(t.c.key == key)
            .values(
                count=case((stale, 1), else_=t.c.count + 1),
                window_start=case((stale, utc(now)), else_=t.c.window_start),
            )
            .returning(t.c.count, t.c.window_start, t.c.blocked_until)
        ).one()
        return _state(*row)

    def block(self, key: str, until: datetime) -> None:
        self.conn.execute(update(t).where(t.c.key == key).values(blocked_until=utc(until)))

    def clear(self, key: str) -> None:
        self.conn.execute(delete(t).where(t.c.key == key))


def _state(count: int, window_start: datetime, blocked_until: datetime | None) -> ThrottleState:
    start = aware(window_start)
    assert start is not None
    return ThrottleState(count, start, aware(blocked_until))
