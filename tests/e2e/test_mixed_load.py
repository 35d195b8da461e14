"""Concurrency under mixed load: two API processes (``envoi run --no-workers``) and three
``envoi worker`` processes on one database, while payers post, confirm, cancel, delete
their posts, confirm twice at once, race a confirmation against a cancellation or a
deletion, leave payments to expire, top up; while people the money waits for open a
wallet and link their account; while the workers expire, refund and claim.

Then, with every process stopped: no answer was a 5xx, no worker job failed; each intent
is in one final state, or a resumable one whose window is still open, and its ledger
legs agree with that state; the ledger check passes; every wallet holds exactly its
top-ups minus what it paid plus what it received; escrow holds exactly the money still
claimable; and nothing waits in escrow for an account a member has linked.

``make test`` runs it for ``ENVOI_MIXED_LOAD_S`` (default 8) seconds per database;
``make chaos`` asks for longer with the same variable (marker ``mixed_load``).
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, and_, create_engine, func, or_, select

from envoi.adapters.db import ledger_check
from envoi.adapters.db.ledger_tables import ledger_balances, ledger_transfers
from envoi.adapters.db.tables import identities, payment_intents
from envoi.adapters.db.tables import topups as topups_table
from tests.e2e.people import PASSWORD, PIN, unique
from tests.e2e.server import free_port

pytestmark = pytest.mark.mixed_load

LOAD_S = float(os.environ.get("ENVOI_MIXED_LOAD_S", "8"))
PAYERS = int(os.environ.get("ENVOI_MIXED_LOAD_PAYERS", "4"))
API_PROCESSES, WORKER_PROCESSES = 2, 3
CONFIRMATION_WINDOW_S, CLAIM_WINDOW_S = 4, 3
BOT = "SmoneyFR"
TOPUP = 1_000_00
FINAL = {"settled", "claimed", "refunded", "cancelled", "expired"}
# What the payer's hold became, by intent state.
HOLD_STATE = {
    "awaiting_confirmation": {"pending"},
    "settled": {"posted"},
    "claimable": {"posted"},
    "claimed": {"posted"},
    "refunded": {"posted"},
    "cancelled": {"voided", "expired"},
    "expired": {"voided", "expired"},
}


# --- the processes -----------------------------------------------------------------------


@dataclass
class Fleet:
    api_urls: list[str]
    env: dict[str, str]
    logs: list[Path]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "envoi.cli", *args],
            env=env,
            cwd=log.parent,  # no stray .env from the developer's checkout
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # a loaded CI machine starts processes slowly
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not start within 180 s")
        time.sleep(0.2)


@contextmanager
def fleet(database_url: str, folder: Path) -> Iterator[Fleet]:
    env = {
        **os.environ,
        "ENVOI_DATABASE_URL": database_url,
        "ENVOI_SANDBOX": "1",  # the sandbox network and card processor, on PostgreSQL too
        "ENVOI_WORKER_POLL_S": "0.2",
        "ENVOI_LOG_LEVEL": "WARNING",
        # One pair of keys for every process: a PIN set through one API checks on the other.
        "ENVOI_PIN_KEY": secrets.token_urlsafe(48),
        "ENVOI_TOKEN_KEY": secrets.token_urlsafe(48),
        "ENVOI_CONFIRMATION_WINDOW_S": str(CONFIRMATION_WINDOW_S),
        "ENVOI_CLAIM_WINDOW_S": str(CLAIM_WINDOW_S),
        # Caps and rates are not what is tested: long runs must not hit them.
        "ENVOI_COMMANDS_PER_MINUTE": "100000",
        "ENVOI_LIMIT_DAILY_MINOR": "1000000000",
        "ENVOI_LIMIT_MONTHLY_MINOR": "1000000000",
        "ENVOI_LIMIT_UNVERIFIED_MONTHLY_MINOR": "1000000000",
        "ENVOI_TOPUP_DAILY_MINOR": "1000000000",
        "ENVOI_TOPUP_MONTHLY_MINOR": "1000000000",
        "ENVOI_SIGNUPS_PER_IP_PER_HOUR": "100000",  # every actor signs up from 127.0.0.1
    }
    env.pop("ENVOI_BASE_URL", None)
    migrated = subprocess.run(  # once, before several processes start
        [sys.executable, "-m", "envoi.cli", "db", "upgrade"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    urls: list[str] = []
    try:
        for _ in range(API_PROCESSES):
            port = free_port()
            log = folder / f"api-{port}.log"
            procs.append(_start(["run", "--no-workers", "--port", str(port)], env, log))
            logs.append(log)
            urls.append(f"http://127.0.0.1:{port}")
        for n in range(WORKER_PROCESSES):
            log = folder / f"worker-{n}.log"
            procs.append(_start(["worker"], env, log))
            logs.append(log)
        for url, proc, log in zip(urls, procs, logs, strict=False):
            _wait_healthy(url, proc, log)
        yield Fleet(urls, env, logs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- the people -----------------------------------------------------------------------------


@dataclass
class Tally:
    """Every answer, by what was asked and its status; 5xx and transport errors in full."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def note(self, what: str, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.answers[f"{what} {response.status_code}"] += 1
            if response.status_code >= 500:
                self.failures.append(f"{what}: {response.status_code} {response.text[:300]}")
        return response

    def broke(self, what: str, exc: Exception) -> None:
        with self.lock:
            self.failures.append(f"{what}: {exc!r}")


@dataclass
class Actor:
    """A person with an HTTP client per API process; every call goes to a random one."""

    urls: list[str]
    tally: Tally
    rng: random.Random
    handle: str
    clients: list[httpx.Client] = field(default_factory=list)
    sandbox_token: str = ""
    api_token: str = ""

    def __post_init__(self) -> None:
        # Idle connections dropped before uvicorn closes them (5 s): no request is sent
        # on a socket the server is closing, which no server could answer.
        limits = httpx.Limits(keepalive_expiry=2)
        self.clients = [httpx.Client(base_url=u, timeout=60, limits=limits) for u in self.urls]

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def call(
        self, what: str, method: str, path: str, *, sandbox: bool = False, **kw: Any
    ) -> httpx.Response | None:
        token = self.sandbox_token if sandbox else self.api_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self.rng.choice(self.clients).request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            self.tally.broke(what, exc)
            return None
        return self.tally.note(what, response)

    def join_network(self) -> None:
        r = self.call(
            "sandbox.account",
            "POST",
            "/sandbox/api/accounts",
            json={"handle": self.handle, "display_name": self.handle.title()},
        )
        self.sandbox_token = expect(r, 201)["token"]

    def open_wallet(self) -> None:
        email = f"{self.handle.lower()}@example.org"
        body = {"email": email, "password": PASSWORD, "display_name": self.handle.title()}
        r = self.call("signup", "POST", "/api/v1/members", json={**body, "locale": "fr"})
        expect(r, 201)
        r = self.call("token", "POST", "/api/v1/auth/token", json={"email": email, **_pw()})
        self.api_token = expect(r, 200)["access_token"]
        expect(self.call("pin", "PUT", "/api/v1/me/pin", json={"pin": PIN}), 204)

    def link(self) -> bool:
        r = self.call(
            "link",
            "POST",
            "/api/v1/me/identities",
            json={"network": "sandbox", "token": self.sandbox_token},
        )
        return r is not None and r.status_code == 201

    def top_up(self) -> bool:
        card = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        r = self.call("topup", "POST", "/api/v1/me/topups", json={"amount_minor": TOPUP, **card})
        return r is not None and r.status_code == 201 and r.json()["status"] == "succeeded"

    def post(self, text_: str) -> str | None:
        r = self.call("post", "POST", "/sandbox/api/posts", sandbox=True, json={"text": text_})
        return str(r.json()["id"]) if r is not None and r.status_code == 201 else None

    def awaiting(self) -> set[str]:
        r = self.call(
            "intents", "GET", "/api/v1/me/intents", params={"state": "awaiting_confirmation"}
        )
        return {i["id"] for i in r.json()} if r is not None and r.status_code == 200 else set()

    def confirm(self, intent_id: str) -> None:
        self.call("confirm", "POST", f"/api/v1/me/intents/{intent_id}/confirm", json={"pin": PIN})

    def cancel(self, intent_id: str) -> None:
        self.call("cancel", "POST", f"/api/v1/me/intents/{intent_id}/cancel")

    def delete(self, post_id: str) -> None:
        self.call("delete", "DELETE", f"/sandbox/api/posts/{post_id}", sandbox=True)


def expect(response: httpx.Response | None, status: int) -> dict[str, Any]:
    """The JSON body of a setup step that must succeed."""
    assert response is not None
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _pw() -> dict[str, str]:
    return {"password": PASSWORD}


def guarded(tally: Tally, loop: Callable[..., None]) -> Callable[..., None]:
    """An actor's loop whose unexpected exception fails the test instead of vanishing."""

    def run(*args: Any) -> None:
        try:
            loop(*args)
        except Exception as exc:  # reported with the HTTP failures
            tally.broke(loop.__name__, exc)

    return run


def together(*actions: Callable[[], None]) -> None:
    """Two requests released at the same moment (each on a random API process)."""
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], None]) -> None:
        barrier.wait()
        action()

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)


@dataclass
class Town:
    payers: list[Actor]
    members: list[Actor]  # payees with a wallet from the start
    newcomers: list[Actor]  # payees without a wallet: they open one during the load
    joined: set[str] = field(default_factory=set)  # newcomers who have linked by now


def payer_loop(actor: Actor, town: Town, deadline: float, topups: Counter[str]) -> None:
    seen: set[str] = set()
    while time.monotonic() < deadline:
        if actor.rng.random() < 0.03 and actor.top_up():
            topups[actor.handle] += TOPUP
        payee = actor.rng.choice(town.members + town.newcomers)
        post_id = actor.post(f"@{BOT} #envoyer 1€ @{payee.handle}")
        if post_id is None:
            continue
        new = actor.awaiting() - seen
        seen |= new
        if len(new) != 1:
            continue  # refused (it said why) or not found: nothing to act on
        act(actor, new.pop(), post_id)


def act(actor: Actor, intent_id: str, post_id: str) -> None:
    """One of the things a payer may do with a payment waiting for them."""
    roll = actor.rng.random()
    if roll < 0.35:
        actor.confirm(intent_id)
    elif roll < 0.45:
        actor.cancel(intent_id)
    elif roll < 0.55:
        actor.delete(post_id)
    elif roll < 0.65:
        together(lambda: actor.confirm(intent_id), lambda: actor.cancel(intent_id))
    elif roll < 0.75:
        together(lambda: actor.confirm(intent_id), lambda: actor.delete(post_id))
    elif roll < 0.85:
        together(lambda: actor.confirm(intent_id), lambda: actor.confirm(intent_id))
    # else: left alone, the workers expire it


def newcomer_loop(town: Town, rng: random.Random, deadline: float) -> None:
    """Newcomers open a wallet and link their account at random moments, racing the
    payers' confirmations to them; some never do (their money is refunded)."""
    waiting = list(town.newcomers)
    rng.shuffle(waiting)
    for newcomer in waiting[: len(waiting) * 2 // 3]:
        if time.monotonic() >= deadline:
            return
        time.sleep(rng.uniform(0, LOAD_S / len(waiting)))
        newcomer.open_wallet()
        if newcomer.link():
            town.joined.add(newcomer.handle)


# --- the invariants ------------------------------------------------------------------------


def quiesced(engine: Engine) -> bool:
    """No window has closed without its worker job having acted on it."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    t = payment_intents.c
    with engine.connect() as conn:
        overdue = conn.execute(
            select(func.count()).where(
                or_(
                    and_(t.state == "awaiting_confirmation", t.expires_at < now),
                    and_(t.state == "claimable", t.claim_expires_at < now),
                )
            )
        ).scalar_one()
    return int(overdue) == 0


def check_books(engine: Engine, topped_up: int) -> Counter[str]:
    """The invariants; returns the intents by state."""
    problems = ledger_check.check(engine)
    assert not problems, problems
    with engine.connect() as conn:
        intents = conn.execute(select(payment_intents)).all()
        lt = ledger_transfers.c
        legs: dict[str, str] = {
            r.id: r.state
            for r in conn.execute(
                select(lt.id, lt.state).where(
                    or_(*(lt.id.like(f"%:{leg}") for leg in ("hold", "claimed", "refunded")))
                )
            )
        }
        b = ledger_balances.c
        net = func.sum(b.credits_posted - b.debits_posted)
        wallets: dict[str, int] = {
            r[0]: int(r[1])
            for r in conn.execute(
                select(b.account_id, net)
                .where(b.account_id.like("wallet:%"))
                .group_by(b.account_id)
            )
        }
        escrow = conn.execute(
            select(func.coalesce(net, 0)).where(b.account_id.like("system:escrow:%"))
        ).scalar_one()
        pi, d = payment_intents.c, identities.c
        stranded = conn.execute(
            select(func.count())
            .select_from(
                payment_intents.join(
                    identities,
                    and_(
                        d.network == pi.payee_network, d.network_user_id == pi.payee_network_user_id
                    ),
                )
            )
            .where(pi.state == "claimable")
        ).scalar_one()
        tp = topups_table.c
        topups: dict[str, int] = {
            r[0]: int(r[1])
            for r in conn.execute(
                select(tp.member_id, func.sum(tp.amount_minor))
                .where(tp.status == "succeeded")
                .group_by(tp.member_id)
            )
        }
    states: Counter[str] = Counter()
    expected = {member: int(total) for member, total in topups.items()}
    claimable = 0
    now = datetime.now(UTC)
    for i in intents:
        states[i.state] += 1
        # One final state, or a resumable one whose window is still open.
        if i.state == "awaiting_confirmation":
            assert _aware(i.expires_at) > now - timedelta(seconds=1), i
        elif i.state == "claimable":
            assert _aware(i.claim_expires_at) > now - timedelta(seconds=1), i
        else:
            assert i.state in FINAL, i
        # Its ledger legs agree: the hold, and money out of escrow once and only when due
        # (a payment settled to someone who linked after the post leaves escrow at once).
        hold = legs.get(f"{i.id}:hold")
        assert hold in HOLD_STATE[i.state], (i.id, i.state, hold)
        released = [f"{i.id}:{leg}" in legs for leg in ("claimed", "refunded")]
        if i.state == "claimed":
            assert released == [True, False], (i.id, i.state, released)
        elif i.state == "refunded":
            assert released == [False, True], (i.id, i.state, released)
        elif i.state == "settled":
            joined_later = i.payee_kind == "identity"
            assert released == [joined_later, False], (i.id, i.state, released)
        else:
            assert released == [False, False], (i.id, i.state, released)
        amount = int(i.amount_minor)
        if i.state in ("settled", "claimable", "claimed"):
            expected[i.payer_member_id] = expected.get(i.payer_member_id, 0) - amount
        if i.state in ("settled", "claimed") and i.payee_member_id:
            expected[i.payee_member_id] = expected.get(i.payee_member_id, 0) + amount
        if i.state == "claimable":
            claimable += amount
    held = {account.removeprefix("wallet:"): int(b) for account, b in wallets.items()}
    # Nothing lost or doubled: each wallet is its top-ups, minus what it paid, plus what
    # it received; escrow is what still waits; together, all the money that came in.
    assert {m: v for m, v in held.items() if v} == {m: v for m, v in expected.items() if v}
    assert int(escrow) == claimable
    assert sum(held.values()) + int(escrow) == sum(expected.values()) + claimable == topped_up
    assert int(stranded) == 0, "money waits in escrow for an account a member has linked"
    return states


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def log_lines(logs: list[Path], *needles: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            for needle in needles:
                if needle in line:
                    found[needle] += 1
    return found


# --- the test -----------------------------------------------------------------------------


def test_mixed_load_on_one_database_keeps_every_invariant(backend_url: str, tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("ENVOI_MIXED_LOAD_SEED", secrets.token_hex(4)))
    tally = Tally()
    topups: Counter[str] = Counter()
    with fleet(backend_url, tmp_path) as live, ExitStack() as closing:

        def actor(name: str) -> Actor:
            made = Actor(live.api_urls, tally, random.Random(rng.random()), unique(name))
            closing.callback(made.close)
            made.join_network()
            return made

        town = Town(
            payers=[actor("payer") for _ in range(PAYERS)],
            members=[actor("member") for _ in range(2)],
            newcomers=[actor("newbie") for _ in range(max(6, int(LOAD_S)))],
        )
        for person in town.payers + town.members:
            person.open_wallet()
            assert person.link()
        for payer in town.payers:
            assert payer.top_up()
            topups[payer.handle] += TOPUP
        deadline = time.monotonic() + LOAD_S
        threads = [
            threading.Thread(target=guarded(tally, payer_loop), args=(p, town, deadline, topups))
            for p in town.payers
        ]
        threads.append(
            threading.Thread(target=guarded(tally, newcomer_loop), args=(town, rng, deadline))
        )
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=LOAD_S + 300)
        assert not any(t.is_alive() for t in threads), "an actor hung"

        engine = create_engine(backend_url)
        try:
            # Let every window close and the workers act on it.
            time.sleep(CONFIRMATION_WINDOW_S + CLAIM_WINDOW_S)
            give_up = time.monotonic() + 180
            while not quiesced(engine):
                assert time.monotonic() < give_up, "the workers left windows unprocessed"
                time.sleep(0.5)
        finally:
            engine.dispose()
    # Every process is stopped: check the books as they are left.
    engine = create_engine(backend_url)
    try:
        states = check_books(engine, sum(topups.values()))
    finally:
        engine.dispose()
    logged = log_lines(live.logs, "uow.retry", "uow.gave_up", "job.failed", "Traceback")
    print(  # the figures, for the record (pytest -s, or -rA)
        f"\nmixed load {LOAD_S:.0f}s on {backend_url.split(':', maxsplit=1)[0]}: "
        f"{sum(tally.answers.values())} requests {dict(sorted(tally.answers.items()))}; "
        f"intents {dict(states)}; newcomers linked {len(town.joined)}; logs {dict(logged)}"
    )
    assert not tally.failures, "\n".join(tally.failures[:20])
    assert logged["uow.gave_up"] == logged["job.failed"] == logged["Traceback"] == 0, logged
    assert sum(states.values()) > 0
