"""kill -9 at every step of the flow, on the real processes, then prove nothing was lost,
doubled or left half-done.

``envoi run --no-workers`` and ``envoi worker`` run as subprocesses on one database. While
people post, confirm, cancel and delete (``scenario.py``), the processes die by SIGKILL:
at the crash points of ``envoi.faults`` (after the post is stored, with the hold written,
mid-confirmation, between send and record of an outbox row, mid-batch, around every
commit), and from outside at random times. A supervisor restarts them at once. Then the
chaos stops, every delivery and request is replayed, and the checks run.

``make test`` runs the short version (a few kills per database); ``make chaos`` sets
``ENVOI_CHAOS=long`` for hundreds (``ENVOI_CHAOS_SECONDS`` per database, default 240).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from envoi.adapters.db.engine import make_engine
from envoi.adapters.db.migrate import upgrade
from tests.chaos.cluster import Chaos, Cluster
from tests.chaos.scenario import (
    Client,
    Findings,
    Record,
    check_balances,
    check_intents,
    check_messages,
    check_posts,
    create_people,
    plan_payments,
    replay_everything,
    run_payments,
    wait_until_settled,
)
from tests.databases import BACKENDS, empty_database


@dataclass(frozen=True)
class Scale:
    payments: int
    seconds: float  # the chaos phase ends after this, or when the payments are done
    threads: int
    workers: int
    chaos: Chaos
    min_kills: int
    members: int
    strangers: int  # on the network without a wallet: money to them waits in escrow


SHORT = Scale(
    payments=10,
    seconds=30,
    threads=2,
    workers=1,
    chaos=Chaos(probability=0.03, outside_kill_every_s=5),
    min_kills=3,
    members=3,  # each costs two argon2 hashes: the short run keeps few
    strangers=1,
)
LONG = Scale(
    payments=100_000,  # never the limit: the time is
    seconds=float(os.environ.get("ENVOI_CHAOS_SECONDS", "240")),
    threads=3,
    workers=2,
    chaos=Chaos(probability=0.03, outside_kill_every_s=2.5),
    min_kills=100,
    members=8,
    strangers=2,
)
SCALE = LONG if os.environ.get("ENVOI_CHAOS") == "long" else SHORT
SEED = int(os.environ.get("ENVOI_CHAOS_SEED", str(random.SystemRandom().randrange(10**6))))


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_at_any_step_loses_and_doubles_nothing(backend: str, tmp_path: Path) -> None:
    seed = SEED + (1 if backend == "postgresql" else 0)
    rng = random.Random(seed)
    record, findings = Record(), Findings()
    with empty_database(backend, tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        cluster = Cluster(
            url,
            tmp_path,
            seed,
            workers=SCALE.workers,
            worker_poll_s="0.1",
            outbox_lease_s="2",  # a dead worker's rows go to another soon
            commands_per_minute="1000000",
            confirmation_window_s="86400",  # "leave" stays resumable through the run
            limit_daily_minor="100000000",
            limit_monthly_minor="100000000",
            limit_unverified_monthly_minor="100000000",
            signups_per_ip_per_hour="100000",  # every test member signs up from 127.0.0.1
        )
        started_at = time.monotonic()
        client = Client(cluster.base_url, record)
        try:
            cluster.start()
            people = create_people(
                client, SCALE.members, SCALE.strangers, funds=500_00, tag=str(seed)
            )
            phases = {"setup": time.monotonic() - started_at}
            cluster.set_chaos(SCALE.chaos)
            planned = plan_payments(people, SCALE.payments, rng)
            started = run_payments(
                cluster.base_url,
                engine,
                record,
                planned,
                threads=SCALE.threads,
                seed=seed,
                until=time.monotonic() + SCALE.seconds,
            )
            payments = planned[:started]
            kills = cluster.kills.total
            phases["chaos"] = time.monotonic() - started_at - phases["setup"]
            cluster.set_chaos(None)  # the last kills: everything restarts without faults
            cluster.wait_healthy()
            replay_everything(client, payments, record)
            wait_until_settled(engine)
            check_intents(engine, payments, findings)
            check_balances(client, engine, people, payments, findings)
            check_messages(engine, findings)
            check_posts(engine, payments, findings)
            ledger = subprocess.run(
                [sys.executable, "-m", "envoi.cli", "ledger", "check"],
                env=cluster.env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            client.close()
            cluster.close()
            engine.dispose()

    figures = {
        "backend": backend,
        "seed": SEED,
        "seconds": round(time.monotonic() - started_at, 1),
        "setup_s": round(phases["setup"], 1),
        "chaos_s": round(phases["chaos"], 1),
        "payments": len(payments),
        "intents_checked": findings.intents_checked,
        "messages_checked": findings.messages_checked,
        "replies_to_deleted_posts": findings.undeliverable,
        "kills": kills,
        "kills_at_crash_points": dict(sorted(cluster.kills.by_point.items())),
        "kills_from_outside": cluster.kills.outside,
        "process_starts": sum(p.starts for p in cluster.procs),
        "replayed_deliveries": record.replays,
        "retried_requests": sum(record.retries.values()),
    }
    print(f"\nchaos figures: {json.dumps(figures)}")
    if report := os.environ.get("ENVOI_CHAOS_REPORT"):
        with Path(report).open("a") as out:
            out.write(json.dumps(figures) + "\n")

    assert record.server_errors == [], "5xx answers:\n" + "\n".join(record.server_errors[:20])
    assert cluster.kills.other_deaths == [], cluster.kills.other_deaths
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr
    assert findings.problems == [], "\n".join(findings.problems[:40])
    assert findings.intents_checked == len(payments) > 0
    # A run where (almost) nothing died proves nothing.
    assert kills >= SCALE.min_kills, f"only {kills} kills (seed {SEED})"
