"""A real local AT Protocol network (PLC + PDS + Bluesky AppView + Ozone) for the tests.

``tests/servers/atproto/install.sh`` (run by ``make test``) installs npm's
``@atproto/dev-env`` into the test cache; ``launch.js`` starts its ``TestNetwork``. One
network serves every test process of a run: pytest-xdist workers share it through a state
file guarded by a file lock, each worker registers its process id as an owner, and the last
owner to leave stops it. The launcher also stops by itself once no owner is alive, so a
killed run leaves nothing behind.

The AppView keeps its data in PostgreSQL, in schemas named fresh for each start and dropped
at the stop; the PDS writes its folders under a TMPDIR of its own, removed at the stop.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
VERSION = "0.3.215"  # keep in step with install.sh
START_TIMEOUT_S = 120.0
# The launcher this process started, reaped here when this process stops it (another
# worker may stop it instead: then it is reaped by init after this process ends).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("ENVOI_TEST_CACHE") or Path.home() / ".cache/envoi-test")


def install_dir() -> Path:
    return cache_dir() / "atproto"


def postgres_url() -> str:
    """The AppView's PostgreSQL (it needs one even when envoi's tests run on SQLite)."""
    url = os.environ.get("ENVOI_TEST_ATPROTO_POSTGRES_URL") or os.environ.get(
        "ENVOI_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    # dev-env speaks node-postgres URLs: no SQLAlchemy driver suffix.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class AtprotoNetwork:
    pds_url: str
    appview_url: str
    plc_url: str
    control_url: str

    def process_all(self) -> None:
        """Wait until the AppView has indexed everything the PDS has sequenced so far."""
        response = httpx.post(f"{self.control_url}/process-all", timeout=30)
        response.raise_for_status()


def _run_dir() -> Path:
    path = cache_dir() / "atproto-run"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked() -> Iterator[Path]:
    run = _run_dir()
    with (run / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield run / "state.json"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(state_file: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads(state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return state


def _write(state_file: Path, state: dict[str, Any]) -> None:
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(state_file)  # the launcher reads it every second: never half-written


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _launcher(pid: int) -> bool:
    """Whether ``pid`` is still our launcher: process ids are reused (32768 of them here,
    on a busy machine), and a stale state file must never have an unrelated process killed.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return str(HERE / "launch.js").encode() in cmdline or b"atproto/launch.js" in cmdline


def _pg_execute(statements: list[str]) -> None:
    engine = create_engine(
        make_url(postgres_url()).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _drop_schemas(schema: str) -> None:
    _pg_execute([f'DROP SCHEMA IF EXISTS "{p}_{schema}" CASCADE' for p in ("appview", "ozone")])


def _start(state_file: Path) -> dict[str, Any]:
    run = state_file.parent
    node_modules = install_dir() / "node_modules" / "@atproto" / "dev-env"
    if not node_modules.is_dir():
        raise RuntimeError(
            f"@atproto/dev-env is not installed in {install_dir()}: run "
            "tests/servers/atproto/install.sh (make test does)"
        )
    # A schema name of letters and '_' only (bsync refuses digits), new for every start.
    schema = "envoi_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    tmp = run / f"tmp-{schema}"
    tmp.mkdir()
    info_file = run / f"info-{schema}.json"
    log_path = run / f"launcher-{schema}.log"
    env = {
        **os.environ,
        "ATPROTO_PG_URL": postgres_url(),
        "ATPROTO_PG_SCHEMA": schema,
        # dev-env asserts REDIS_HOST is set; TestNetwork never connects to it.
        "REDIS_HOST": "localhost:1",
        "TMPDIR": str(tmp),
        "LOG_ENABLED": "false",
    }
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(  # noqa: S603 - node with our own script
            ["node", str(HERE / "launch.js"), str(install_dir()), str(state_file), str(info_file)],  # noqa: S607
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=run,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    state = {"owners": [os.getpid()], "pid": proc.pid, "schema": schema, "tmp": str(tmp)}
    _write(state_file, state)  # before it reads the owners file
    deadline = started + START_TIMEOUT_S
    while not info_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            _cleanup(state)
            state_file.unlink(missing_ok=True)
            raise RuntimeError(f"the AT Protocol network did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    state["network"] = json.loads(info_file.read_text())
    state["start_s"] = round(time.monotonic() - started, 2)
    _write(state_file, state)
    return state


def _cleanup(state: dict[str, Any]) -> None:
    shutil.rmtree(state.get("tmp", ""), ignore_errors=True)
    if schema := state.get("schema"):
        _drop_schemas(schema)
        run = _run_dir()
        (run / f"info-{schema}.json").unlink(missing_ok=True)
        (run / f"launcher-{schema}.log").unlink(missing_ok=True)


def _stop(state: dict[str, Any]) -> None:
    pid = state.get("pid")
    child = _CHILDREN.pop(pid, None) if pid else None
    if child is not None:
        child.terminate()
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    elif pid and _launcher(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _launcher(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _launcher(pid):
            os.kill(pid, signal.SIGKILL)
    _cleanup(state)


def acquire() -> tuple[AtprotoNetwork, float | None]:
    """Join the running network or start one; returns it and its start-up time if we
    started it."""
    with _locked() as state_file:
        state = _read(state_file)
        owners = [p for p in state.get("owners", []) if _alive(p)]
        # A network whose owners all died is stopping itself: never join it.
        if state.get("network") and _launcher(state["pid"]) and owners:
            state["owners"] = [*owners, os.getpid()]
            _write(state_file, state)
            started_s = None
        else:
            if state:  # left over by a killed run: its server is gone, clear its traces
                _stop(state)
            state = _start(state_file)
            started_s = state["start_s"]
    net = state["network"]
    network = AtprotoNetwork(net["pds"], net["appview"], net["plc"], net["control"])
    return network, started_s


def release() -> None:
    """Leave the network; the last owner stops it."""
    with _locked() as state_file:
        state = _read(state_file)
        if not state:
            return
        state["owners"] = [p for p in state["owners"] if p != os.getpid() and _alive(p)]
        if state["owners"]:
            _write(state_file, state)
            return
        _stop(state)
        state_file.unlink(missing_ok=True)


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children, from /proc (Linux)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pids.extend(int(c) for c in children)
    return total
