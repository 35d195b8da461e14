"""localstripe (a stateful fake Stripe server, PyPI) for the ``-m stripe`` tests.

``.ci/install-localstripe`` (run by ``make test``) installs it in its own virtualenv in
``${ENVOI_TEST_CACHE:-~/.cache/envoi-test}/localstripe``. One server serves the whole
test session: the first pytest-xdist worker to need it starts it under a file lock, the
others reuse it (a count of users in a state file beside the lock), and the last one
to finish stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SECRET_KEY = "sk_test_envoi_localstripe"
PUBLISHABLE_KEY = "pk_test_envoi_localstripe"


def cache_dir() -> Path:
    root = os.environ.get("ENVOI_TEST_CACHE") or str(Path.home() / ".cache" / "envoi-test")
    return Path(root) / "localstripe"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        reply = httpx.get(f"{url}/v1/balance", auth=(SECRET_KEY, ""), timeout=2)
    except httpx.TransportError:
        return False
    return reply.status_code == 200


# The servers this process started: kept referenced (a collected Popen of a running
# process warns), and waited for when this process stops them.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def _start(folder: Path) -> dict[str, object]:
    program = cache_dir() / "venv" / "bin" / "localstripe"
    if not program.exists():
        raise RuntimeError(
            f"localstripe is not installed in {program.parent.parent}: run .ci/install-localstripe"
            " (make test does)"
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / f"localstripe-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 - a fixed program from our cache
            [str(program), "--port", str(port), "--from-scratch"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,  # outlives the worker that started it, until the last user
        )
    _STARTED[proc.pid] = proc
    deadline = time.monotonic() + 30
    while not _answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"localstripe did not start: see {log}")
        time.sleep(0.1)
    return {"url": url, "pid": proc.pid, "users": 0}


@contextmanager
def shared_localstripe(folder: Path) -> Iterator[str]:
    """The URL of the session's localstripe; ``folder`` is shared by all xdist workers."""
    lock_path, state_path = folder / "localstripe.lock", folder / "localstripe.json"
    with lock_path.open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(state_path.read_text()) if state_path.exists() else None
        if state is None or not _answers(str(state["url"])):
            state = _start(folder)
        state["users"] = int(state["users"]) + 1  # type: ignore[call-overload]
        state_path.write_text(json.dumps(state))
    try:
        yield str(state["url"])
    finally:
        with lock_path.open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = json.loads(state_path.read_text())
            state["users"] -= 1
            if state["users"] <= 0:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(state["pid"]), signal.SIGTERM)
                mine = _STARTED.pop(int(state["pid"]), None)
                if mine is not None:
                    mine.wait(timeout=10)
                state_path.unlink()
            else:
                state_path.write_text(json.dumps(state))
