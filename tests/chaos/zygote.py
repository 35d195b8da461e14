"""A process that has imported envoi once and forks a fresh ``envoi`` command on request.

Starting Python and importing FastAPI, SQLAlchemy and pydantic takes a second of CPU (five
on a loaded machine); hundreds of kills need restarts cheaper than that. The zygote
imports once; each child it forks runs ``envoi.cli`` with its own arguments, environment
and log exactly as ``python -m envoi.cli ...`` would, from a process that holds no
connection, thread or state of the zygote's (none is made before the fork). The child is
what gets killed; the zygote only forks, reaps and reports.

Protocol on stdin/stdout, one JSON object a line. In: ``{"args": [...], "env": {...},
"log": path}``; out: ``{"pid": n}`` for each start, and ``{"exited": pid, "status": n}``
when a child ends (``status`` negative: killed by that signal, as ``Popen.returncode``).
"""

from __future__ import annotations

import json
import os
import select
import sys

import uvicorn  # noqa: F401 - imported here so that children need not
from alembic import command  # noqa: F401

import envoi.adapters.db.migrate
import envoi.bootstrap
import envoi.cli
import envoi.faults
import envoi.web.app


def _child(request: dict[str, object]) -> None:
    log = os.open(str(request["log"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.chdir(os.path.dirname(str(request["log"])))  # no stray .env from the checkout
    os.setsid()  # its own process group: a signal to the zygote's group is not for it
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    envoi.faults.configure(os.environ.get(envoi.faults.ENV))  # read at import, redo now
    args = request["args"]
    assert isinstance(args, list)
    sys.argv = ["envoi", *args]
    code = 0
    try:
        envoi.cli.app()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _reap(out: int) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        os.write(out, (json.dumps({"exited": pid, "status": code}) + "\n").encode())


def main() -> None:
    inp, out = sys.stdin.fileno(), sys.stdout.fileno()
    buffer = b""
    while True:
        ready, _, _ = select.select([inp], [], [], 0.02)
        _reap(out)
        if not ready:
            continue
        chunk = os.read(inp, 65536)
        if not chunk:  # the test is gone: so are we (children too, see Cluster.close)
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _child(request)
            os.write(out, (json.dumps({"pid": pid}) + "\n").encode())


if __name__ == "__main__":
    main()
