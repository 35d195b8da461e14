"""What people do while the processes are being killed, and what must hold afterwards.

People post payment commands on the sandbox network, then confirm, cancel, delete the
post or leave it pending. Every request is retried until it gets an answer, as a phone
app retries: a post with the same ``Idempotency-Key`` (the sandbox keeps it, so the retry
is the same post), a confirmation with the same PIN, amount and payee. Deliveries are
replayed on purpose (``/redeliver``) besides those the network repeats after a crash.

The expected balances come from what the people decided, never from what the server
says: a payment confirmed is in the payee's wallet once, a cancelled one nowhere.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from sqlalchemy import Engine, func, select

from envoi.adapters.db.ledger_tables import ledger_balances, ledger_transfers
from envoi.adapters.db.tables import inbound_posts, outbox, payment_intents
from envoi.adapters.networks.sandbox.tables import sandbox_accounts, sandbox_posts
from envoi.domain import accounts

BOT = "SmoneyFR"
PIN = "2580"
PASSWORD = "chaos password 1234"
CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
Decision = Literal["confirm", "cancel", "delete", "leave"]
# What each decision must end as, for a payee who is a member / who is not (escrow).
FINAL: dict[Decision, tuple[str, str]] = {
    "confirm": ("settled", "claimable"),
    "cancel": ("cancelled", "cancelled"),
    "delete": ("cancelled", "cancelled"),
    "leave": ("awaiting_confirmation", "awaiting_confirmation"),
}
HOLD_STATE = {
    "awaiting_confirmation": "pending",
    "settled": "posted",
    "claimable": "posted",
    "cancelled": "voided",
}
WAIT_S = 180.0  # one step's patience: restarts on a loaded machine take seconds each


class StuckError(AssertionError):
    """A step that did not finish in time: the system is wedged, not just slow."""


@dataclass
class Person:
    handle: str
    sandbox_id: str
    sandbox_token: str
    api_token: str | None = None  # None: on the network only, no wallet
    funds: int = 0


@dataclass
class Payment:
    number: int
    payer: Person
    payee: Person
    amount: int
    decision: Decision
    post_id: str | None = None
    intent_id: str | None = None


@dataclass
class Record:
    """What the run saw, for the checks and the figures."""

    server_errors: list[str] = field(default_factory=list)  # 5xx answers: always a finding
    refused: list[str] = field(default_factory=list)  # unexpected 4xx answers
    retries: Counter[str] = field(default_factory=Counter)  # requests that had to be re-sent
    replays: int = 0  # deliveries replayed on purpose
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, bucket: list[str], line: str) -> None:
        with self.lock:
            bucket.append(line)


class Client:
    """HTTP with the patience of a phone app: retried until the server answers."""

    def __init__(self, base_url: str, record: Record) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.record = record

    def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        deadline = time.monotonic() + WAIT_S
        label = f"{method} {path.split('/')[3] if path.count('/') > 2 else path}"
        while True:
            try:
                response = self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:  # killed mid-request, or restarting
                response = None
            if response is not None and response.status_code < 500:
                return response
            if response is not None:
                self.record.note(
                    self.record.server_errors,
                    f"{method} {path} -> {response.status_code} {response.text[:300]}",
                )
            with self.record.lock:
                self.record.retries[label] += 1
            if time.monotonic() > deadline:
                raise StuckError(f"{method} {path}: no answer within {WAIT_S} s")
            time.sleep(0.05)

    def close(self) -> None:
        self.http.close()


def expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url} -> {response.status_code} "
        f"{response.text[:500]}"
    )
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def create_people(
    client: Client, members: int, strangers: int, funds: int, tag: str
) -> list[Person]:
    """Members with a funded wallet, a PIN and a linked sandbox account; strangers with
    only a sandbox account (money sent to them waits in escrow)."""
    people = []
    for i in range(members + strangers):
        handle = f"{'m' if i < members else 's'}{tag}{i}"[:15]
        account = expect(
            client.call(
                "POST", "/sandbox/api/accounts", json={"handle": handle, "display_name": handle}
            ),
            201,
        )
        person = Person(handle, account["id"], account["token"])
        if i < members:
            email = f"{handle}@chaos.example"
            expect(
                client.call(
                    "POST",
                    "/api/v1/members",
                    json={"email": email, "password": PASSWORD, "display_name": handle},
                ),
                201,
            )
            token = expect(
                client.call(
                    "POST", "/api/v1/auth/token", json={"email": email, "password": PASSWORD}
                ),
                200,
            )["access_token"]
            person.api_token = token
            expect(client.call("PUT", "/api/v1/me/pin", token=token, json={"pin": PIN}), 204)
            expect(
                client.call(
                    "POST",
                    "/api/v1/me/identities",
                    token=token,
                    json={"network": "sandbox", "token": person.sandbox_token},
                ),
                201,
            )
            topup = expect(
                client.call(
                    "POST",
                    "/api/v1/me/topups",
                    token=token,
                    json={"amount_minor": funds, **CARD},
                    headers={"Idempotency-Key": f"chaos-{handle}"},
                ),
                201,
            )
            assert topup["status"] == "succeeded", topup
            person.funds = funds
        people.append(person)
    return people


def plan_payments(
    people: list[Person], count: int, rng: random.Random, start: int = 0
) -> list[Payment]:
    members = [p for p in people if p.api_token]
    decisions: list[Decision] = ["confirm"] * 6 + ["cancel", "cancel", "delete", "leave"]
    plan = []
    for n in range(start, start + count):
        payer = rng.choice(members)
        payee = rng.choice([p for p in people if p is not payer])
        amount = rng.randrange(1, 300)  # 0,01 € to 2,99 €: funds never run out
        plan.append(Payment(n, payer, payee, amount, rng.choice(decisions)))
    return plan


class Driver:
    def __init__(self, client: Client, engine: Engine, record: Record, rng: random.Random) -> None:
        self.client, self.engine, self.record, self.rng = client, engine, record, rng

    def run(self, payment: Payment) -> None:
        """Post, then act as decided; every step retried until it is known to be done."""
        self.post(payment)
        if self.rng.random() < 0.3:
            self.replay(payment)
        self.wait_for_intent(payment)
        if payment.decision == "confirm":
            self.confirm(payment)
        elif payment.decision == "cancel":
            self.cancel(payment)
        elif payment.decision == "delete":
            self.delete(payment)

    def post(self, payment: Payment) -> None:
        text = f"@{BOT} #envoyer {payment.amount // 100},{payment.amount % 100:02d}€ " + (
            f"@{payment.payee.handle}"
        )
        body = expect(
            self.client.call(
                "POST",
                "/sandbox/api/posts",
                token=payment.payer.sandbox_token,
                json={"text": text},
                headers={"Idempotency-Key": f"chaos-payment-{payment.number}"},
            ),
            201,
        )
        payment.post_id = body["id"]

    def replay(self, payment: Payment) -> None:
        """The network delivers the same post again (as after a webhook timeout)."""
        response = self.client.call(
            "POST",
            f"/sandbox/api/posts/{payment.post_id}/redeliver",
            token=payment.payer.sandbox_token,
        )
        # A deleted post cannot be redelivered: 404 then is right.
        expect(response, 202, 404)
        with self.record.lock:
            self.record.replays += 1

    def wait_for_intent(self, payment: Payment) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(inbound_posts.c.outcome, inbound_posts.c.intent_id).where(
                        inbound_posts.c.network == "sandbox",
                        inbound_posts.c.post_id == payment.post_id,
                    )
                ).first()
            if row is not None and row.outcome is not None:
                assert row.outcome == "intent", f"payment {payment.number}: {row.outcome}"
                payment.intent_id = row.intent_id
                return
            time.sleep(0.05)
        raise StuckError(f"post {payment.post_id} never reached envoi")

    def confirm(self, payment: Payment) -> None:
        assert payment.payer.api_token is not None
        response = self.client.call(
            "POST",
            f"/api/v1/me/intents/{payment.intent_id}/confirm",
            token=payment.payer.api_token,
            json={"pin": PIN, "amount_minor": payment.amount, "payee": payment.payee.handle},
        )
        self._done_or_already(response, payment)

    def cancel(self, payment: Payment) -> None:
        assert payment.payer.api_token is not None
        response = self.client.call(
            "POST", f"/api/v1/me/intents/{payment.intent_id}/cancel", token=payment.payer.api_token
        )
        self._done_or_already(response, payment)

    def delete(self, payment: Payment) -> None:
        response = self.client.call(
            "DELETE", f"/sandbox/api/posts/{payment.post_id}", token=payment.payer.sandbox_token
        )
        # 404: the first DELETE went through before its answer was lost.
        expect(response, 204, 404)

    def _done_or_already(self, response: httpx.Response, payment: Payment) -> None:
        """200, or 409 INTENT_NOT_PENDING when the first attempt committed and its answer
        was lost: the replayed request must not act twice (checked at the end)."""
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "INTENT_NOT_PENDING", response.text
            return
        expect(response, 200)


def run_payments(
    base_url: str,
    engine: Engine,
    record: Record,
    payments: list[Payment],
    *,
    threads: int,
    seed: int,
    until: float | None = None,
) -> int:
    """Run the payments on ``threads`` people-threads; returns how many were started."""
    queue = list(payments)
    started = 0
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        nonlocal started
        client = Client(base_url, record)
        driver = Driver(client, engine, record, random.Random(seed * 100 + index))
        try:
            while True:
                with lock:
                    if not queue or failures or (until and time.monotonic() > until):
                        return
                    payment = queue.pop(0)
                    started += 1
                driver.run(payment)
        except BaseException as exc:
            with lock:
                failures.append(exc)
        finally:
            client.close()

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise failures[0]
    return started


# --- after the storm -------------------------------------------------------------------


def replay_everything(client: Client, payments: list[Payment], record: Record) -> None:
    """Every delivery and every request once more: none may change anything."""
    driver = Driver(client, None, record, random.Random(0))  # type: ignore[arg-type]
    for payment in payments:
        driver.replay(payment)
        if payment.decision == "confirm":
            driver.confirm(payment)
        elif payment.decision == "cancel":
            driver.cancel(payment)
        elif payment.decision == "delete":
            driver.delete(payment)


def wait_until_settled(engine: Engine, timeout: float = WAIT_S) -> None:
    """Everything owed is done: posts delivered to envoi, every outbox row sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            owed_posts = conn.execute(
                select(func.count())
                .select_from(sandbox_posts)
                .where(sandbox_posts.c.for_bot, sandbox_posts.c.delivered_at.is_(None))
            ).scalar_one()
            unsent = conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.delivered_at.is_(None), outbox.c.failed_at.is_(None))
            ).scalar_one()
        if owed_posts == 0 and unsent == 0:
            return
        time.sleep(0.2)
    raise StuckError(f"{owed_posts} posts still owed to envoi, {unsent} outbox rows unsent")


@dataclass
class Findings:
    intents_checked: int = 0
    messages_checked: int = 0
    undeliverable: int = 0  # replies to posts deleted before they went out
    problems: list[str] = field(default_factory=list)


def check_intents(engine: Engine, payments: list[Payment], findings: Findings) -> None:
    """One intent per post, in the state its decision leads to, with its hold to match."""
    problems = findings.problems
    by_post = {p.post_id: p for p in payments}
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                payment_intents.c.id,
                payment_intents.c.state,
                payment_intents.c.source_post_id,
                payment_intents.c.amount_minor,
            )
        ).all()
        holds = dict(
            conn.execute(
                select(ledger_transfers.c.id, ledger_transfers.c.state).where(
                    ledger_transfers.c.id.like("%:hold")
                )
            ).all()
        )
    seen: Counter[str] = Counter(r.source_post_id for r in rows)
    for post_id, n in seen.items():
        if n != 1 or post_id not in by_post:
            problems.append(
                f"post {post_id}: {n} intents (not one of ours: {post_id not in by_post})"
            )
    for row in rows:
        payment = by_post.get(row.source_post_id)
        if payment is None:
            continue
        findings.intents_checked += 1
        wanted = FINAL[payment.decision][0 if payment.payee.api_token else 1]
        if row.state != wanted:
            problems.append(
                f"payment {payment.number} ({payment.decision}): intent {row.id} is "
                f"{row.state}, not {wanted}"
            )
        if row.amount_minor != payment.amount:
            problems.append(f"intent {row.id}: amount {row.amount_minor} != {payment.amount}")
        hold = holds.get(f"{row.id}:hold")
        if hold != HOLD_STATE.get(row.state):
            problems.append(f"intent {row.id} is {row.state} but its hold is {hold}")
    missing = [p.number for p in payments if p.post_id not in seen]
    if missing:
        problems.append(f"payments without an intent: {missing[:20]}")


def check_balances(
    client: Client,
    engine: Engine,
    people: list[Person],
    payments: list[Payment],
    findings: Findings,
) -> None:
    """Each wallet holds its funding, minus what it confirmed, plus what it was sent;
    escrow holds what was confirmed to people without a wallet."""
    posted: dict[str, int] = {p.handle: p.funds for p in people}
    pending: dict[str, int] = defaultdict(int)
    escrow = 0
    for pay in payments:
        if pay.decision == "confirm":
            posted[pay.payer.handle] -= pay.amount
            if pay.payee.api_token:
                posted[pay.payee.handle] += pay.amount
            else:
                escrow += pay.amount
        elif pay.decision == "leave":
            pending[pay.payer.handle] += pay.amount
    for person in people:
        if not person.api_token:
            continue
        wallet = expect(client.call("GET", "/api/v1/me/wallet", token=person.api_token), 200)
        want = (posted[person.handle], posted[person.handle] - pending[person.handle])
        got = (wallet["balance_minor"], wallet["available_minor"])
        if got != want:
            findings.problems.append(f"{person.handle}: (balance, available) {got} != {want}")
    balance = ledger_balances.c
    with engine.connect() as conn:
        in_escrow = conn.execute(
            select(
                func.coalesce(func.sum(balance.credits_posted - balance.debits_posted), 0)
            ).where(balance.account_id == accounts.escrow("EUR"))
        ).scalar_one()
    if in_escrow != escrow:
        findings.problems.append(f"escrow holds {in_escrow}, confirmed to strangers {escrow}")


def check_messages(engine: Engine, findings: Findings) -> None:
    """Each outbox row on the network once: one bot post per row, and no other."""
    with engine.connect() as conn:
        bot_id = conn.execute(
            select(sandbox_accounts.c.id).where(sandbox_accounts.c.handle_key == BOT.lower())
        ).scalar_one()
        bot_posts = conn.execute(
            select(sandbox_posts.c.id, sandbox_posts.c.idempotency_key).where(
                sandbox_posts.c.author_id == bot_id
            )
        ).all()
        rows = conn.execute(
            select(outbox.c.id, outbox.c.remote_id, outbox.c.failed_at, outbox.c.last_error)
        ).all()
        deleted = set(
            conn.execute(
                select(sandbox_posts.c.id).where(sandbox_posts.c.deleted_at.is_not(None))
            ).scalars()
        )
        targets = dict(conn.execute(select(outbox.c.id, outbox.c.target)).all())
    problems = findings.problems
    # The one legitimate failure: a reply to a post its author deleted before it went out.
    failed = [r for r in rows if r.failed_at is not None]
    bad = [
        r.id
        for r in failed
        if "POST_NOT_FOUND" not in (r.last_error or "") or targets[r.id] not in deleted
    ]
    if bad:
        problems.append(f"outbox rows given up: {bad[:10]}")
    rows = [r for r in rows if r.failed_at is None]
    findings.messages_checked += len(rows)
    findings.undeliverable += len(failed)
    if len(bot_posts) != len(rows):
        problems.append(f"{len(bot_posts)} bot posts/DMs for {len(rows)} outbox rows")
    keys = Counter(p.idempotency_key for p in bot_posts)
    wanted = {f"envoi-{r.id}" for r in rows}
    if set(keys) != wanted or any(n != 1 for n in keys.values()):
        problems.append("bot posts do not match outbox rows one to one")
    remote = Counter(r.remote_id for r in rows)
    if set(remote) != {p.id for p in bot_posts} or any(n != 1 for n in remote.values()):
        problems.append("outbox remote ids do not name each bot post once")


def check_posts(engine: Engine, payments: list[Payment], findings: Findings) -> None:
    """A retried post is the same post: each payer wrote one post per payment."""
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(sandbox_posts)
            .where(sandbox_posts.c.idempotency_key.like("chaos-payment-%"))
        ).scalar_one()
    if count != len(payments):
        findings.problems.append(f"{count} sandbox posts for {len(payments)} payments")
