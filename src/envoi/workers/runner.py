"""Run the jobs in a loop: in a thread beside the API (``envoi run``) or alone (``envoi worker``).

Jobs claim their rows with compare-and-set and SKIP LOCKED, so any number of
workers can run against one PostgreSQL without doing anything twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import structlog

log = structlog.get_logger(__name__)

Job = Callable[[], int]


def run_once(jobs: Mapping[str, Job]) -> dict[str, int]:
    """Each job once; a failing job is logged and the others still run."""
    done: dict[str, int] = {}
    for name, job in jobs.items():
        try:
            done[name] = job()
        except Exception:  # a worker must outlive one bad row
            log.exception("job.failed", job=name)
            done[name] = -1
    return done


def run_until(jobs: Mapping[str, Job], poll_s: float, stop: threading.Event) -> None:
    while not stop.is_set():
        done = run_once(jobs)
        busy = {name: n for name, n in done.items() if n}
        if busy:
            log.info("jobs", **busy)
        # Busy: go again at once; idle: wait for the next poll (or the stop signal).
        if not any(n > 0 for n in done.values()):
            stop.wait(poll_s)


class WorkerThread:
    def __init__(self, jobs: Mapping[str, Job], poll_s: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_until, args=(jobs, poll_s, self._stop), name="envoi-worker", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
