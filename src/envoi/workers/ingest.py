"""Each network's ingest loop: in a thread of ``envoi run``, or a process of ``envoi worker``.

A failing read (an outage, a homeserver restarting) is retried with exponential backoff
and jitter, so a fleet of workers does not hammer a network that is coming back; the
cursor has not moved, so the retry picks up everything that was missed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


def backoff_s(
    failures: int,
    *,
    base_s: float = 1.0,
    cap_s: float = 60.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before retry number ``failures`` (1, 2, …): half fixed, half random."""
    ceiling = min(cap_s, base_s * float(2 ** min(failures - 1, 30)))
    return ceiling / 2 + rand() * ceiling / 2


def run_ingest(
    network: str,
    step: Callable[[], int],
    stop: threading.Event,
    *,
    idle_s: float = 0.0,
    base_s: float = 1.0,
    cap_s: float = 60.0,
    rand: Callable[[], float] = random.random,
) -> None:
    """Call ``step`` until ``stop`` is set. ``idle_s`` is a pause after an empty read,
    for readers that do not long-poll; ``step`` itself waits on those that do."""
    failures = 0
    while not stop.is_set():
        try:
            stored = step()
        except Exception:  # the loop must outlive any outage
            failures += 1
            delay = backoff_s(failures, base_s=base_s, cap_s=cap_s, rand=rand)
            log.warning(
                "ingest.failed", network=network, failures=failures, retry_in_s=round(delay, 2)
            )
            log.debug("ingest.failure", exc_info=True)
            stop.wait(delay)
            continue
        if failures:
            log.info("ingest.recovered", network=network, after_failures=failures)
        failures = 0
        if not stored and idle_s:
            stop.wait(idle_s)


class IngestThread:
    """One network's loop beside the API (``envoi run``)."""

    def __init__(self, network: str, step: Callable[[], int], **options: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_ingest,
            args=(network, step, self._stop),
            kwargs=options,
            name=f"envoi-ingest-{network}",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
