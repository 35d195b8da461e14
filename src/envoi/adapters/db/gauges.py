"""Gauges read from the database when Prometheus scrapes: intents by state, and how far
behind the outbox and the networks' ingest are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from envoi.adapters.db.tables import outbox, payment_intents
from envoi.adapters.networks.sandbox.tables import sandbox_posts


class DatabaseGauges(Collector):
    """Three small queries per scrape, each served by an index."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        intents = GaugeMetricFamily("envoi_intents", "Payment intents by state.", labels=["state"])
        outbox_lag = GaugeMetricFamily(
            "envoi_outbox_lag_seconds",
            "Age of the oldest reply or DM still to send (0 when none waits).",
        )
        ingest_lag = GaugeMetricFamily(
            "envoi_ingest_lag_seconds",
            "Age of the oldest network post not yet received by envoi, by network.",
            labels=["network"],
        )
        now = self.now()
        with self.engine.connect() as conn:
            for state, count in conn.execute(
                select(payment_intents.c.state, func.count()).group_by(payment_intents.c.state)
            ):
                intents.add_metric([state], count)
            oldest = conn.execute(
                select(func.min(outbox.c.created_at)).where(
                    outbox.c.delivered_at.is_(None), outbox.c.failed_at.is_(None)
                )
            ).scalar()
            outbox_lag.add_metric([], _age(now, oldest))
            waiting = conn.execute(
                select(func.min(sandbox_posts.c.created_at)).where(
                    sandbox_posts.c.for_bot, sandbox_posts.c.delivered_at.is_(None)
                )
            ).scalar()
            ingest_lag.add_metric(["sandbox"], _age(now, waiting))
        yield intents
        yield outbox_lag
        yield ingest_lag


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # SQLite gives back naive UTC
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())
