"""What envoi spends on X, estimated from X's published unit prices, and the daily budget.

X bills per call (pay-per-use, docs.x.com/x-api/getting-started/pricing, 2026): envoi
keeps its own count per UTC day and kind of call, reserves each outgoing call against
the day's budget before making it, and refuses it once the budget is reached (the
operator is told once that day, at ``error`` level: ``x.budget_reached``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy import Connection, Engine, func, select, update

from envoi.adapters.db.rows import insert_once, utc
from envoi.adapters.networks.x.tables import TOTAL, x_spend
from envoi.services.ports import Clock, NetworkBusy

log = structlog.get_logger(__name__)

# Micro-dollars per unit (per post read, per request written), docs.x.com pricing 2026.
PRICES_MICRO_USD: dict[str, int] = {
    "post_read": 5_000,
    "user_read": 10_000,
    "dm_read": 10_000,
    "reply": 15_000,
    "reply_url": 200_000,  # a post that contains a URL: envoi never sends one
    "dm": 15_000,
}


def micro_usd(amount_usd: Decimal) -> int:
    return int(amount_usd * 1_000_000)


class BudgetSpent(NetworkBusy):
    """Today's X budget is used up: calls wait for the next UTC day (or a higher budget)."""


@dataclass(frozen=True, slots=True)
class Reservation:
    day: str
    kind: str
    micro_usd: int


@dataclass(frozen=True, slots=True)
class SpendLine:
    kind: str
    calls: int
    micro_usd: int


class SpendMeter:
    """Reserve before a call, release if X refused it, record reads once counted."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        budget_usd: Decimal,
        *,
        alert: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.budget = micro_usd(budget_usd)  # 0: no budget
        self._alert = alert or _log_alert

    def _day(self) -> tuple[str, datetime]:
        now = self.clock.now()
        return now.date().isoformat(), now

    def reserve(self, kind: str, units: int = 1) -> Reservation:
        """Count ``units`` of ``kind`` now; BudgetSpent (nothing counted) past the budget."""
        cost = PRICES_MICRO_USD[kind] * units
        day, now = self._day()
        with self.engine.begin() as conn:
            insert_once(conn, x_spend, {"day": day, "kind": TOTAL, "calls": 0, "micro_usd": 0})
            total = x_spend.c.micro_usd
            where = [x_spend.c.day == day, x_spend.c.kind == TOTAL]
            if self.budget:
                where.append(total + cost <= self.budget)
            done = conn.execute(
                update(x_spend)
                .where(*where)
                .values(micro_usd=total + cost, calls=x_spend.c.calls + units)
            )
            if done.rowcount != 1:
                first = conn.execute(
                    update(x_spend)
                    .where(
                        x_spend.c.day == day,
                        x_spend.c.kind == TOTAL,
                        x_spend.c.alerted_at.is_(None),
                    )
                    .values(alerted_at=utc(now))
                ).rowcount
                spent = conn.execute(select(total).where(*where[:2])).scalar_one()
            else:
                self._add(conn, day, kind, units, cost)
                return Reservation(day, kind, cost)
        if first:
            self._alert(day, int(spent), self.budget)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
        raise BudgetSpent(f"X budget for {day} reached", midnight)

    def release(self, reservation: Reservation, units: int = 1) -> None:
        """X refused the call (it is not billed): give the reservation back."""
        with self.engine.begin() as conn:
            for kind in (TOTAL, reservation.kind):
                conn.execute(
                    update(x_spend)
                    .where(x_spend.c.day == reservation.day, x_spend.c.kind == kind)
                    .values(
                        micro_usd=func.max(x_spend.c.micro_usd - reservation.micro_usd, 0)
                        if conn.dialect.name == "sqlite"
                        else func.greatest(x_spend.c.micro_usd - reservation.micro_usd, 0),
                        calls=x_spend.c.calls - units,
                    )
                )

    def record(self, kind: str, units: int) -> None:
        """Reads are billed per item returned: counted after the call, whatever the budget."""
        if units <= 0:
            return
        cost = PRICES_MICRO_USD[kind] * units
        day, _ = self._day()
        with self.engine.begin() as conn:
            insert_once(conn, x_spend, {"day": day, "kind": TOTAL, "calls": 0, "micro_usd": 0})
            conn.execute(
                update(x_spend)
                .where(x_spend.c.day == day, x_spend.c.kind == TOTAL)
                .values(micro_usd=x_spend.c.micro_usd + cost, calls=x_spend.c.calls + units)
            )
            self._add(conn, day, kind, units, cost)

    def spent_today(self) -> int:
        day, _ = self._day()
        with self.engine.connect() as conn:
            found = conn.execute(
                select(x_spend.c.micro_usd).where(x_spend.c.day == day, x_spend.c.kind == TOTAL)
            ).scalar()
        return int(found or 0)

    def can_spend(self) -> bool:
        return not self.budget or self.spent_today() < self.budget

    def month(self, year: int, month: int) -> list[SpendLine]:
        """Calls and estimated cost per kind over one month (the ``total`` line last)."""
        prefix = f"{year:04d}-{month:02d}-"
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(x_spend.c.kind, func.sum(x_spend.c.calls), func.sum(x_spend.c.micro_usd))
                .where(x_spend.c.day.like(prefix + "%"))
                .group_by(x_spend.c.kind)
            ).all()
        lines = [SpendLine(kind, int(calls), int(cost)) for kind, calls, cost in rows]
        return sorted(lines, key=lambda line: (line.kind == TOTAL, line.kind))

    @staticmethod
    def _add(conn: Connection, day: str, kind: str, units: int, cost: int) -> None:
        if not insert_once(
            conn, x_spend, {"day": day, "kind": kind, "calls": units, "micro_usd": cost}
        ):
            conn.execute(
                update(x_spend)
                .where(x_spend.c.day == day, x_spend.c.kind == kind)
                .values(micro_usd=x_spend.c.micro_usd + cost, calls=x_spend.c.calls + units)
            )


def _log_alert(day: str, spent: int, budget: int) -> None:
    log.error(
        "x.budget_reached",
        day=day,
        spent_usd=f"{spent / 1_000_000:.3f}",
        budget_usd=f"{budget / 1_000_000:.2f}",
        action="outgoing X calls stop until the next UTC day; raise ENVOI_X__DAILY_BUDGET_USD",
    )
