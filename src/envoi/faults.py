"""Crash points for fault-injection tests: the process kills itself (SIGKILL) at named steps.

``ENVOI_CRASH_AT=PATTERNS:PROBABILITY:SEED`` turns them on, e.g.
``ENVOI_CRASH_AT='delivery.*,intake.committed:0.05:42'``: each time the process passes a
crash point whose name matches one of the comma-separated glob patterns (``*`` for all),
it dies with probability 0.05, drawn from a generator seeded with 42 (same seed, same
run of draws). Nothing happens unless the variable is set explicitly: the points cost one
``None`` check otherwise. A malformed value stops the process at start, so a test never
believes it injects faults when it does not.

SIGKILL, not an exception: nothing runs after it (no ``finally``, no rollback sent, no
buffered write flushed), exactly as when the operating system kills a worker. The
tests in ``tests/chaos`` use it together with outside SIGKILLs at random times.
"""

from __future__ import annotations

import fnmatch
import os
import random
import signal
import threading
from dataclasses import dataclass

ENV = "ENVOI_CRASH_AT"


@dataclass(frozen=True)
class CrashPlan:
    patterns: tuple[str, ...]
    probability: float
    seed: int

    @classmethod
    def parse(cls, spec: str) -> CrashPlan:
        parts = spec.rsplit(":", 2)
        if len(parts) != 3:
            raise ValueError(f"{ENV} must be PATTERNS:PROBABILITY:SEED, not {spec!r}")
        names, probability, seed = parts
        patterns = tuple(p.strip() for p in names.split(",") if p.strip())
        try:
            chance, number = float(probability), int(seed)
        except ValueError:
            raise ValueError(f"{ENV}: PROBABILITY and SEED are numbers: {spec!r}") from None
        if not patterns or not 0.0 <= chance <= 1.0:
            raise ValueError(f"{ENV}: no pattern, or a probability outside [0, 1]: {spec!r}")
        return cls(patterns, chance, number)

    def matches(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.patterns)


class _Injector:
    def __init__(self, plan: CrashPlan) -> None:
        self.plan = plan
        self._random = random.Random(plan.seed)  # noqa: S311 - a test schedule, not a secret
        self._lock = threading.Lock()  # one sequence of draws, whichever thread passes

    def maybe_crash(self, name: str) -> None:
        if not self.plan.matches(name):
            return
        with self._lock:
            draw = self._random.random()
        if draw < self.plan.probability:
            # Said on stderr first (unbuffered, one write) so a test can tell which
            # points it reached; then no Python code runs again in this process.
            os.write(2, f"envoi: crash point {name} (pid {os.getpid()})\n".encode())
            os.kill(os.getpid(), signal.SIGKILL)


def _from_environment() -> _Injector | None:
    spec = os.environ.get(ENV)
    return _Injector(CrashPlan.parse(spec)) if spec else None


_injector = _from_environment()


def configure(spec: str | None) -> None:
    """Set (or with None, clear) the plan in this process, as the variable would."""
    global _injector  # noqa: PLW0603 - one plan per process, like the environment it mirrors
    _injector = _Injector(CrashPlan.parse(spec)) if spec else None


def active() -> CrashPlan | None:
    return _injector.plan if _injector else None


def crash_point(name: str) -> None:
    """A step after which a crash must leave nothing half-done (see the module doc)."""
    if _injector is not None:
        _injector.maybe_crash(name)
