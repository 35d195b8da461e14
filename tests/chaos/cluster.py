"""The real processes under test: ``envoi run --no-workers`` and ``envoi worker``, killed
with SIGKILL (by their own crash points, ``ENVOI_CRASH_AT``, and from outside at random
times) and restarted by a supervisor thread, as systemd or Kubernetes would restart them.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.server import free_port

_CRASH_LINE = re.compile(r"envoi: crash point (\S+) ")
# What each command prints once started (worker: False, API: True).
READY = {False: "envoi worker polling", True: "envoi on http"}


@dataclass
class Chaos:
    """What kills the processes while the chaos phase lasts."""

    crash_at: str = "*"  # glob patterns of the crash points (envoi.faults)
    probability: float = 0.0  # per crash point passed
    outside_kill_every_s: float = 0.0  # mean interval of outside SIGKILLs; 0: none


@dataclass
class Kills:
    by_point: Counter[str] = field(default_factory=Counter)  # self-inflicted, by crash point
    outside: int = 0  # SIGKILLs sent by the supervisor
    other_deaths: list[str] = field(default_factory=list)  # exits that were no kill: bugs

    @property
    def total(self) -> int:
        return sum(self.by_point.values()) + self.outside


class Zygote:
    """Forks ``envoi`` commands from a process that imported envoi once (``zygote.py``)."""

    def __init__(self) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        self._lock = threading.Lock()
        self._started: queue.Queue[int] = queue.Queue()
        self.exits: dict[int, int] = {}
        self._reader = threading.Thread(target=self._read, name="zygote", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            message = json.loads(line)
            if "pid" in message:
                self._started.put(message["pid"])
            else:
                with self._lock:
                    self.exits[message["exited"]] = message["status"]

    def spawn(self, args: list[str], env: dict[str, str], log: Path) -> int:
        assert self.popen.stdin is not None
        request = {"args": args, "env": env, "log": str(log)}
        self.popen.stdin.write((json.dumps(request) + "\n").encode())
        self.popen.stdin.flush()
        return self._started.get(timeout=60)

    def exit_status(self, pid: int) -> int | None:
        with self._lock:
            return self.exits.get(pid)

    def close(self) -> None:
        if self.popen.stdin is not None:
            self.popen.stdin.close()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self._reader.join(timeout=10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


class Proc:
    """One ``envoi`` command, started again each time it dies."""

    def __init__(
        self, name: str, args: list[str], log_dir: Path, env: dict[str, str], zygote: Zygote
    ) -> None:
        self.name, self.args, self.log_dir, self.env = name, args, log_dir, env
        self.zygote = zygote
        self.pid: int | None = None
        self.log_path: Path | None = None
        self.started_at = 0.0
        self.starts = 0
        self.killed_from_outside = False
        self.restart_requested = False  # killed to change its plan: not a chaos kill

    def start(self, crash_at: str | None) -> None:
        self.starts += 1
        env = dict(self.env)
        if crash_at:
            env["ENVOI_CRASH_AT"] = crash_at
        else:
            env.pop("ENVOI_CRASH_AT", None)
        self.log_path = self.log_dir / f"{self.name}-{self.starts:04d}.log"
        self.killed_from_outside = self.restart_requested = False
        self.started_at = time.monotonic()
        self.pid = self.zygote.spawn(self.args, env, self.log_path)

    def returncode(self) -> int | None:
        return None if self.pid is None else self.zygote.exit_status(self.pid)

    def ready(self, marker: str) -> bool:
        """Started and past its start-up (its log says so)."""
        if self.returncode() is not None or self.log_path is None:
            return False
        try:
            return marker in self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return False

    def kill(self) -> None:
        if self.pid is not None and self.returncode() is None:
            self.killed_from_outside = True
            os.kill(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.kill()
        deadline = time.monotonic() + 30
        while self.pid is not None and self.returncode() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} (pid {self.pid}) did not die")
            time.sleep(0.01)

    def crash_point_hit(self) -> str | None:
        assert self.log_path is not None
        found = _CRASH_LINE.findall(self.log_path.read_text(errors="replace"))
        return found[-1] if found else None


class Cluster:
    """One API process and ``workers`` worker processes on one database, supervised."""

    def __init__(
        self, database_url: str, log_dir: Path, seed: int, *, workers: int = 1, **settings: str
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ENVOI_DATABASE_URL": database_url,
            "ENVOI_BASE_URL": self.base_url,
            "ENVOI_SANDBOX": "1",  # the sandbox network and processor on PostgreSQL too
            "ENVOI_LOG_LEVEL": "WARNING",
            "ENVOI_PIN_KEY": f"chaos-pin-key-{seed}-" + "k" * 32,  # the same for every start
            "ENVOI_TOKEN_KEY": f"chaos-token-key-{seed}-" + "k" * 32,
            "PYTHONUNBUFFERED": "1",
            **{f"ENVOI_{k.upper()}": v for k, v in settings.items()},
        }
        self.env.pop("ENVOI_CRASH_AT", None)
        self.zygote = Zygote()
        self.api = Proc(
            "api", ["run", "--no-workers", "--port", str(self.port)], log_dir, self.env, self.zygote
        )
        self.workers = [
            Proc(f"worker{i}", ["worker"], log_dir, self.env, self.zygote) for i in range(workers)
        ]
        self.random = random.Random(seed)
        self.chaos: Chaos | None = None
        self.kills = Kills()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def procs(self) -> list[Proc]:
        return [self.api, *self.workers]

    def _crash_spec(self) -> str | None:
        chaos = self.chaos
        if chaos is None or chaos.probability <= 0:
            return None
        return f"{chaos.crash_at}:{chaos.probability}:{self.random.randrange(2**31)}"

    def start(self) -> None:
        with self._lock:
            for proc in self.procs:
                proc.start(self._crash_spec())
        self.wait_healthy()
        self._thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._thread.start()

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the API did not answer within {timeout} s")

    def set_chaos(self, chaos: Chaos | None) -> None:
        """Change what kills, and restart every process so the new plan applies."""
        with self._lock:
            self.chaos = chaos
            for proc in self.procs:
                proc.kill()
                proc.restart_requested = True

    def _supervise(self) -> None:
        next_kill = self._next_outside_kill()
        while not self._stop.is_set():
            with self._lock:
                for proc in self.procs:
                    self._restart_if_dead(proc)
                if next_kill is not None and time.monotonic() >= next_kill:
                    # Only processes past their start-up: the flow is what is under test.
                    up = [p for p in self.procs if p.ready(READY[p is self.api])]
                    if up:
                        self.random.choice(up).kill()
                        next_kill = None
                if next_kill is None:
                    next_kill = self._next_outside_kill()
            self._stop.wait(0.02)

    def _next_outside_kill(self) -> float | None:
        chaos = self.chaos
        if chaos is None or chaos.outside_kill_every_s <= 0:
            return None
        return time.monotonic() + self.random.expovariate(1 / chaos.outside_kill_every_s)

    def _restart_if_dead(self, proc: Proc) -> None:
        code = proc.returncode()
        if code is None:
            return
        if proc.restart_requested:
            pass
        elif proc.killed_from_outside:
            self.kills.outside += 1
        elif code == -signal.SIGKILL and (point := proc.crash_point_hit()):
            self.kills.by_point[point] += 1
        else:  # died by itself: a crash we did not cause is a finding
            self.kills.other_deaths.append(f"{proc.log_path} exited {code}")
        proc.start(self._crash_spec())

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for proc in self.procs:
            proc.stop()
        self.zygote.close()

    def logs_with(self, needle: str) -> list[str]:
        """Log lines (of every start of every process) that contain ``needle``."""
        found = []
        for path in sorted(self.api.log_dir.glob("*.log")):
            found += [f"{path.name}: {ln}" for ln in path.read_text(errors="replace").splitlines()
                      if needle in ln]  # fmt: skip
        return found
