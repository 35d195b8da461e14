"""A real Synapse homeserver for the ``-m matrix`` tests: installed once into the test
cache (``install_synapse.sh``), started once per test run and shared by the xdist
workers through a file lock and a reference count, stopped by the last one out.

Bound to 127.0.0.1, SQLite, no federation, rate limits lifted, users registered with
the shared-secret admin API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ENVOI_TEST_CACHE", Path.home() / ".cache" / "envoi-test")) / "synapse"
PYTHON = CACHE / "venv" / "bin" / "python"
SERVER_NAME = "localhost"
FIGURES = CACHE / "last-start.json"

_LIMIT = {"per_second": 10000, "burst_count": 10000}
_LOG_CONFIG = """version: 1
formatters:
  plain: {format: '%(asctime)s %(levelname)s %(name)s %(message)s'}
handlers:
  file: {class: logging.FileHandler, formatter: plain, filename: LOGFILE}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


@dataclass(frozen=True)
class Synapse:
    url: str
    shared_secret: str
    data_dir: Path
    startup_s: float
    rss_kb: int

    def register(self, username: str, *, admin: bool = False) -> dict[str, str]:
        """A new user through the admin API: ``user_id``, ``access_token``, ``device_id``."""
        with httpx.Client(base_url=self.url, timeout=30) as http:
            nonce = http.get("/_synapse/admin/v1/register").json()["nonce"]
            password = secrets.token_urlsafe(12)
            role = b"admin" if admin else b"notadmin"
            message = b"\x00".join([nonce.encode(), username.encode(), password.encode(), role])
            mac = hmac.new(self.shared_secret.encode(), message, hashlib.sha1).hexdigest()
            answer = http.post(
                "/_synapse/admin/v1/register",
                json={
                    "nonce": nonce,
                    "username": username,
                    "password": password,
                    "admin": admin,
                    "mac": mac,
                },
            )
            answer.raise_for_status()
            body: dict[str, str] = answer.json()
            body["password"] = password
            return body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_config(data_dir: Path, port: int, shared_secret: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_config = data_dir / "log.yaml"
    log_config.write_text(_LOG_CONFIG.replace("LOGFILE", str(data_dir / "homeserver.log")))
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(data_dir / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client", "openid"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(data_dir / "media"),
        "signing_key_path": str(data_dir / "signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "enable_registration": False,
        # Offline: never reach matrix.org for keys.
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "bcrypt_rounds": 4,
        "enable_metrics": False,
        "presence": {"enabled": False},
        **dict.fromkeys(
            (
                "rc_message",
                "rc_registration",
                "rc_admin_redaction",
                "rc_room_creation",
                "rc_key_requests",
                "rc_3pid_validation",
                "rc_presence",
                "rc_delayed_event_mgmt",
            ),
            _LIMIT,
        ),
        "rc_login": {"address": _LIMIT, "account": _LIMIT, "failed_attempts": _LIMIT},
        "rc_joins": {"local": _LIMIT, "remote": _LIMIT},
        "rc_joins_per_room": _LIMIT,
        "rc_invites": {"per_room": _LIMIT, "per_user": _LIMIT, "per_issuer": _LIMIT},
    }
    path = data_dir / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return path


def install() -> None:
    script = ROOT / "tests" / "servers" / "install_synapse.sh"
    subprocess.run(["/bin/bash", str(script)], check=True)  # noqa: S603 - our own script


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    """Resident memory now (``VmRSS``) or at its peak (``VmHWM``), in KiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _record_peak(pid: int) -> None:
    if FIGURES.exists():
        found = json.loads(FIGURES.read_text())
        found["peak_rss_kb"] = _rss_kb(pid, "VmHWM")
        FIGURES.write_text(json.dumps(found))


def _start(data_dir: Path) -> tuple[subprocess.Popen[bytes], Synapse]:
    port, shared_secret = _free_port(), secrets.token_hex(16)
    config = _write_config(data_dir, port, shared_secret)
    subprocess.run(  # noqa: S603 - the Synapse we installed, fixed arguments
        [str(PYTHON), "-m", "synapse.app.homeserver", "-c", str(config), "--generate-keys"],
        check=True,
        cwd=data_dir,
        capture_output=True,
    )
    started = time.monotonic()
    with (data_dir / "stdout.log").open("wb") as out:  # the child keeps its own copy
        process = subprocess.Popen(  # noqa: S603 - the Synapse we installed, fixed arguments
            [str(PYTHON), "-m", "synapse.app.homeserver", "-c", str(config)],
            cwd=data_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = started + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"Synapse exited; see {data_dir}/stdout.log and homeserver.log")
        try:
            if httpx.get(f"{url}/_matrix/client/versions", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError("Synapse did not answer within 120 s")
        time.sleep(0.1)
    startup = time.monotonic() - started
    rss_kb = _rss_kb(process.pid)
    # What the test summary reports (``tests/conftest.py``): the last start's figures.
    FIGURES.write_text(json.dumps({"startup_s": round(startup, 2), "rss_kb": rss_kb}))
    return process, Synapse(url, shared_secret, data_dir, startup, rss_kb)


def figures_since(started_at: float) -> str | None:
    """One line on the Synapse this test run started, if it started one."""
    if not FIGURES.exists() or FIGURES.stat().st_mtime < started_at:
        return None
    found = json.loads(FIGURES.read_text())
    peak = found.get("peak_rss_kb")
    return (
        f"synapse: ready in {found['startup_s']:.1f} s (start to /versions answering), "
        f"RSS {found['rss_kb'] / 1024:.0f} MiB after start"
        + (f", peak {peak / 1024:.0f} MiB" if peak else "")
    )


class SharedSynapse:
    """One Synapse for all the xdist workers of a run (``run_dir`` is per run)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.lock = FileLock(str(run_dir / "synapse.lock"))
        self.state = run_dir / "synapse.json"
        self.process: subprocess.Popen[bytes] | None = None

    def acquire(self) -> Synapse:
        with self.lock:
            if self.state.exists():
                state = json.loads(self.state.read_text())
            else:
                install()
                self.process, server = _start(self.run_dir / "synapse")
                state = {
                    "pid": self.process.pid,
                    "users": 0,
                    "server": {**server.__dict__, "data_dir": str(server.data_dir)},
                }
            state["users"] += 1
            self.state.write_text(json.dumps(state))
        server_state = state["server"]
        return Synapse(**{**server_state, "data_dir": Path(server_state["data_dir"])})

    def release(self) -> None:
        with self.lock:
            state = json.loads(self.state.read_text())
            state["users"] -= 1
            if state["users"] > 0:
                self.state.write_text(json.dumps(state))
                return
            self.state.unlink()
            pid = int(state["pid"])
            _record_peak(pid)
            if self.process is not None and self.process.pid == pid:
                self.process.terminate()
                self.process.wait(30)
            else:  # started by another worker that finished first
                os.kill(pid, 15)
                for _ in range(300):
                    if not Path(f"/proc/{pid}").exists():
                        break
                    time.sleep(0.1)
