"""End-to-end throughput: complete payments over real HTTP against ``envoi run``, as a ratio
of the bare ``GET /healthz`` rate measured under the same load, on the same server, in the
same run.

    .venv/bin/python bench/e2e.py [--clients 8] [--seconds 10] [--rounds 2]
                                  [--pg URL] [--no-pg] [--processes 1 2] [--json FILE]

Each configuration (SQLite; PostgreSQL; PostgreSQL with ``envoi run --processes N``) gets a
fresh database and a fresh server. This script is the load generator: its own process, N
client threads, each with one keep-alive connection (``http.client``: the lightest client
the standard library has, so the generator costs the server as little CPU as possible on a
shared machine). Rounds alternate the two loads so a neighbour's burst hits both alike:

- baseline: every client loops on ``GET /healthz``;
- payments: every client is a payer with a funded wallet and its own payee; a payment is
  the sandbox post ``@SmoneyFR #envoyer 1€ @payee`` (envoi reads it synchronously and holds
  the money), ``GET /api/v1/me/intents?state=awaiting_confirmation``, then
  ``POST …/confirm`` with the PIN, which must answer ``settled``.

Reported per configuration: medians over rounds of healthz req/s, payments/s and their
ratio, and p50/p99 latency of the post's answer (the HTTP response to the post) and of the
confirmation. Limits and the per-author command rate are raised through ``ENVOI_*``
settings: the bench measures the work, not the refusals.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The throwaway PostgreSQL database is the ledger bench's (run as scripts: bench/ is on the path).
from ledger import pg_database

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BOT = "SmoneyFR"
PIN = "4821"
PASSWORD = "correct horse battery"  # noqa: S105 - throwaway bench members
CARD = {"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
HUGE = str(10**12)
TOPUPS = 5  # 10,000 € per payer: 10,000 payments of 1 € each
# The bench measures work, not refusals: limits and the command rate out of the way.
BENCH_SETTINGS = {
    "ENVOI_COMMANDS_PER_MINUTE": "1000000",
    "ENVOI_LIMIT_DAILY_MINOR": HUGE,
    "ENVOI_LIMIT_MONTHLY_MINOR": HUGE,
    "ENVOI_LIMIT_UNVERIFIED_MONTHLY_MINOR": HUGE,
    "ENVOI_LIMIT_UNVERIFIED_PER_PAYMENT_MINOR": HUGE,
    "ENVOI_LIMIT_P2P_PER_PAYMENT_MINOR": HUGE,
    "ENVOI_TOPUP_DAILY_MINOR": HUGE,
    "ENVOI_TOPUP_MONTHLY_MINOR": HUGE,
    "ENVOI_LOG_LEVEL": "WARNING",
    "ENVOI_SANDBOX": "1",  # the sandbox network on PostgreSQL (harmless where not needed)
}


# -- a client ---------------------------------------------------------------------------


class Http:
    """One keep-alive connection; JSON in and out."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = json.dumps(body) if body is not None else None
        for attempt in range(2):
            try:
                self.conn.request(method, path, payload, headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server may close an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        return response.status, json.loads(data) if data else None

    def close(self) -> None:
        self.conn.close()


def expect(status: int, body: Any, wanted: int) -> Any:
    if status != wanted:
        raise RuntimeError(f"HTTP {status} (wanted {wanted}): {body}")
    return body


@dataclass
class Pair:
    """A payer who posts and confirms, and the member they pay."""

    payer_api: str
    payer_sandbox: str
    payee_handle: str


def new_member(http: Http, handle: str) -> tuple[str, str]:
    """A sandbox account, a wallet with a PIN, the two linked: (api token, sandbox token)."""
    account = expect(
        *http.call("POST", "/sandbox/api/accounts", {"handle": handle, "display_name": handle}),
        201,
    )
    email = f"{handle.lower()}@bench.example"
    expect(
        *http.call(
            "POST",
            "/api/v1/members",
            {"email": email, "password": PASSWORD, "display_name": handle, "locale": "en"},
        ),
        201,
    )
    token = expect(
        *http.call("POST", "/api/v1/auth/token", {"email": email, "password": PASSWORD}), 200
    )["access_token"]
    expect(*http.call("PUT", "/api/v1/me/pin", {"pin": PIN}, token), 204)
    link = {"network": "sandbox", "token": account["token"]}
    expect(*http.call("POST", "/api/v1/me/identities", link, token), 201)
    return token, account["token"]


def make_pairs(port: int, count: int) -> list[Pair]:
    http = Http(port)
    pairs = []
    for i in range(count):
        tag = uuid.uuid4().hex[:6]
        payer_api, payer_sandbox = new_member(http, f"payer{i}_{tag}")
        payee = f"payee{i}_{tag}"
        new_member(http, payee)
        topup = {"amount_minor": 2_000_00, **CARD}  # the most one top-up may bring
        for _ in range(TOPUPS):
            status = expect(*http.call("POST", "/api/v1/me/topups", topup, payer_api), 201)
            assert status["status"] == "succeeded", status
        pairs.append(Pair(payer_api, payer_sandbox, payee))
    http.close()
    return pairs


# -- the load ---------------------------------------------------------------------------


@dataclass
class Tally:
    done: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)

    def time(self, name: str, started: float) -> None:
        self.latencies.setdefault(name, []).append(time.perf_counter() - started)


Op = Callable[[Http, Tally], None]


def healthz(http: Http, tally: Tally) -> None:
    expect(*http.call("GET", "/healthz"), 200)
    tally.done += 1


def payment(pair: Pair) -> Op:
    text_ = f"@{BOT} #envoyer 1€ @{pair.payee_handle}"

    def pay(http: Http, tally: Tally) -> None:
        t0 = time.perf_counter()
        expect(*http.call("POST", "/sandbox/api/posts", {"text": text_}, pair.payer_sandbox), 201)
        tally.time("post", t0)
        path = "/api/v1/me/intents?state=awaiting_confirmation"
        intents = expect(*http.call("GET", path, token=pair.payer_api), 200)
        if not intents:
            raise RuntimeError("the post made no intent to confirm")
        t0 = time.perf_counter()
        confirm = f"/api/v1/me/intents/{intents[0]['id']}/confirm"
        confirmed = expect(*http.call("POST", confirm, {"pin": PIN}, pair.payer_api), 200)
        tally.time("confirm", t0)
        if confirmed["state"] != "settled":
            raise RuntimeError(f"confirmed intent is {confirmed['state']}")
        tally.done += 1

    return pay


def run_load(port: int, ops: list[Op], seconds: float) -> tuple[float, Tally]:
    """Every op in its own thread and connection for ``seconds``: (rate per second, tally)."""
    tallies = [Tally() for _ in ops]
    errors: list[BaseException] = []
    start = threading.Barrier(len(ops) + 1)
    stop_at = [0.0]

    def client(op: Op, tally: Tally) -> None:
        http = Http(port)
        try:
            start.wait()
            while time.perf_counter() < stop_at[0]:
                op(http, tally)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            http.close()

    threads = [
        threading.Thread(target=client, args=(o, t)) for o, t in zip(ops, tallies, strict=True)
    ]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed: {errors[0]!r}") from errors[0]
    total = Tally(done=sum(t.done for t in tallies))
    for t in tallies:
        for name, values in t.latencies.items():
            total.latencies.setdefault(name, []).extend(values)
    return total.done / elapsed, total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- the server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def envoi_run(database_url: str, processes: int, workdir: Path) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        **BENCH_SETTINGS,
        "ENVOI_DATABASE_URL": database_url,
        "ENVOI_PIN_KEY": secrets.token_urlsafe(30),  # 40 characters, as production needs
        "ENVOI_TOKEN_KEY": secrets.token_urlsafe(30),
    }
    env.pop("ENVOI_BASE_URL", None)
    args = [sys.executable, "-m", "envoi.cli", "run", "--port", str(port)]
    if processes > 1:
        args += ["--processes", str(processes)]
    log_path = workdir / f"server-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(args, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"envoi run exited: {log_path.read_text()}")
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        conn.close()
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("envoi run did not start within 90 s")
                time.sleep(0.2)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)  # several processes stop slowly on a busy machine
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def database(kind: str, pg_url: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'e2e-{uuid.uuid4().hex[:6]}.db'}"
    else:
        with pg_database(pg_url) as url:
            yield url


# -- driver -----------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    clients: int
    healthz: list[float] = field(default_factory=list)
    payments: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    confirm_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        health, pay = statistics.median(self.healthz), statistics.median(self.payments)
        return {
            "name": self.name,
            "clients": self.clients,
            "healthz_per_s": health,
            "payments_per_s": pay,
            "ratio": pay / health,
            "post_p50_ms": percentile(self.post_ms, 0.50),
            "post_p99_ms": percentile(self.post_ms, 0.99),
            "confirm_p50_ms": percentile(self.confirm_ms, 0.50),
            "confirm_p99_ms": percentile(self.confirm_ms, 0.99),
            "rounds": len(self.payments),
        }


def measure(
    name: str, db: str, processes: int, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    result = Result(name, args.clients)
    with database(db, args.pg, workdir) as url, envoi_run(url, processes, workdir) as port:
        pairs = make_pairs(port, args.clients)
        pay_ops = [payment(p) for p in pairs]
        run_load(port, [healthz] * args.clients, 1.0)  # warm-up, not counted
        run_load(port, pay_ops, 1.0)
        for _ in range(args.rounds):
            rate, _ = run_load(port, [healthz] * args.clients, args.seconds)
            result.healthz.append(rate)
            rate, tally = run_load(port, pay_ops, args.seconds)
            result.payments.append(rate)
            result.post_ms += [s * 1000 for s in tally.latencies.get("post", [])]
            result.confirm_ms += [s * 1000 for s in tally.latencies.get("confirm", [])]
    summary = result.summary()
    print(
        f"  {name:<28} healthz {summary['healthz_per_s']:>7,.0f}/s  payments"
        f" {summary['payments_per_s']:>6,.1f}/s  ratio {summary['ratio']:>6.1%}  post p50/p99"
        f" {summary['post_p50_ms']:.0f}/{summary['post_p99_ms']:.0f} ms  confirm p50/p99"
        f" {summary['confirm_p50_ms']:.0f}/{summary['confirm_p99_ms']:.0f} ms",
        flush=True,
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="per load and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server URL (any database)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[2],
        help="also run PostgreSQL with envoi run --processes N for each N given",
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()

    load_before = os.getloadavg()
    print(
        f"e2e bench: {args.clients} clients, {args.rounds} rounds of {args.seconds:.0f} s per load,"
        f" load average {load_before[0]:.1f}",
        flush=True,
    )
    plan = [] if args.no_sqlite else [("SQLite", "sqlite", 1)]
    if not args.no_pg:
        plan.append(("PostgreSQL", "pg", 1))
        plan += [(f"PostgreSQL, {n} processes", "pg", n) for n in args.processes if n > 1]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, db, processes in plan:
            results.append(measure(name, db, processes, args, Path(tmp)))
    report = {
        "clients": args.clients,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "load_average": [load_before[0], os.getloadavg()[0]],
        "results": results,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
