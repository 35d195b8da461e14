"""Start the real ``envoi run`` in a subprocess on a free port, against a fresh database."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    base_url: str
    database_url: str
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``envoi`` command against this server's database."""
        return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "envoi.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@contextmanager
def running_server(
    database_url: str, log_dir: Path, *, processes: int = 1, **settings: str
) -> Iterator[Server]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ENVOI_DATABASE_URL": database_url,
        "ENVOI_WORKER_POLL_S": "0.2",
        "ENVOI_LOG_LEVEL": "WARNING",
        # Fresh keys: ``envoi run`` refuses the demo ones on PostgreSQL.
        "ENVOI_PIN_KEY": secrets.token_urlsafe(48),
        "ENVOI_TOKEN_KEY": secrets.token_urlsafe(48),
        # Tests pay with the sandbox network and cards, on PostgreSQL too.
        "ENVOI_SANDBOX": "1",
        # Every test person signs up and in from 127.0.0.1: lift the per-address throttles
        # (tests/e2e/test_throttle.py starts its own server with the real ones).
        "ENVOI_SIGNUPS_PER_IP_PER_HOUR": "100000",
        "ENVOI_SIGNIN_FREE_ATTEMPTS_PER_IP": "100000",
        # These stories read the bot's public replies with their amounts; new members'
        # real default (discreet) is tested in tests/integration/test_new_user.py.
        "ENVOI_DEFAULT_PRIVACY": "public",
        **{f"ENVOI_{k.upper()}": v for k, v in settings.items()},
    }
    # No ENVOI_BASE_URL: ``envoi run`` derives the links it sends from where it listens.
    env.pop("ENVOI_BASE_URL", None)
    log = (log_dir / f"server-{port}.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "envoi.cli", "run", "--port", str(port)]
        + (["--processes", str(processes)] if processes > 1 else []),
        env=env,
        cwd=log_dir,  # no stray .env from the developer's checkout
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Start-up (migrations, imports; several processes each import the whole app) takes
        # over a minute on a shared, loaded machine.
        deadline = time.monotonic() + 120 * processes
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(log_dir / f'server-{port}.log').read_text()}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start within {120 * processes} s")
            time.sleep(0.1)
        yield Server(base_url, database_url, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
