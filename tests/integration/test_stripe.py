"""The Stripe card processor against localstripe, over real HTTP, on SQLite and PostgreSQL.

envoi runs in-process behind a real HTTP server (uvicorn on a free port); localstripe
delivers its own signed webhooks to it. The tests here share one localstripe and empty
it before each test, so they stay in this one file (pytest-xdist ``--dist loadfile``
runs a file's tests one after the other).

What localstripe lacks, tested instead against events of the documented shape, signed
with the endpoint secret and posted over HTTP like Stripe's own (each test says which):
- disputes (no Dispute object, no ``charge.dispute.*`` events);
- ``charge.refunded`` events (its refunds send no webhook);
- ``return_url`` / ``redirect_to_url`` 3-D Secure (it only knows ``use_stripe_sdk``,
  completed here by its ``_authenticate`` endpoint in place of Stripe.js);
- ``error.payment_intent`` on a declined card (it names only the charge);
- the Search API (``find``) and the ``created`` filter on lists;
- refunds that fail after they were made (its refunds always succeed, and it sends no
  ``refund.failed`` nor ``charge.refund.updated``);
- idempotency keys (it ignores them): a refund whose answer was lost is therefore tested
  with a transport that lets the first request through and no retry.

Network errors are injected at the HTTP boundary: a port nothing listens on (Stripe
unreachable) or a stand-in HTTP client of the ``stripe`` library that drops the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import stripe
import uvicorn
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from envoi import cli
from envoi.adapters.db.ledger_tables import ledger_transfers
from envoi.adapters.db.psp_tables import card_disputes, card_refunds
from envoi.adapters.psp.stripe import StripeCardProcessor
from envoi.config import StripeSettings, get_settings
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import Topup
from envoi.services.ports import CardDetails, CardToken
from envoi.web.app import create_app
from tests.integration.flow_app import PIN, Someone, World, make_world
from tests.localstripe import PUBLISHABLE_KEY, SECRET_KEY, shared_localstripe

pytestmark = pytest.mark.stripe

WEBHOOK_SECRET = "whsec_envoi_tests_" + "0" * 16


# Generous: the whole suite shares two cores with other work, and a slow answer is not
# what these tests are about.
TIMEOUT = 60


def _post(url: str, **kw: Any) -> httpx.Response:
    return httpx.post(url, timeout=TIMEOUT, **kw)


def _get(url: str, **kw: Any) -> httpx.Response:
    return httpx.get(url, timeout=TIMEOUT, **kw)


def _delete(url: str, **kw: Any) -> httpx.Response:
    return httpx.delete(url, timeout=TIMEOUT, **kw)


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    base = tmp_path_factory.getbasetemp()
    shared: Path = base if worker_id == "master" else base.parent
    with shared_localstripe(shared) as url:
        yield url


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Live:
    """envoi with the Stripe processor, served over HTTP, and localstripe beside it."""

    world: World
    base_url: str
    stripe_url: str

    @property
    def app(self) -> Any:
        return self.world.app

    def member(self, handle: str) -> Someone:
        return self.world.person(handle)

    def top_up(self, who: Someone, amount: int, card: str = "pm_card_visa") -> Topup:
        topup: Topup = self.app.funding.top_up(
            who.member.id, amount, CardToken(card), request_key=secrets.token_hex(8)
        )
        return topup

    def card(self, number: str) -> str:
        """A PaymentMethod for a test card number, made as Stripe.js would in the browser."""
        reply = _post(
            f"{self.stripe_url}/v1/payment_methods",
            auth=(SECRET_KEY, ""),
            data={
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
        )
        reply.raise_for_status()
        return str(reply.json()["id"])

    def authenticate(self, payment_intent: str, *, success: bool) -> None:
        """The cardholder's answer to the 3-D Secure challenge, as Stripe.js gives it."""
        secret = self.app.ctx.processor.client_secret(payment_intent)
        reply = _post(
            f"{self.stripe_url}/v1/payment_intents/{payment_intent}/_authenticate",
            data={"client_secret": secret, "success": str(success).lower(), "key": PUBLISHABLE_KEY},
        )
        reply.raise_for_status()

    def back_from_3ds(self, payment_intent: str) -> httpx.Response:
        return _get(
            f"{self.base_url}/wallet/topup/return",
            params={"payment_intent": payment_intent},
            follow_redirects=False,
        )

    def stripe_object(self, path: str) -> dict[str, Any]:
        reply = _get(f"{self.stripe_url}/v1/{path}", auth=(SECRET_KEY, ""))
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data

    def post_event(
        self,
        kind: str,
        obj: dict[str, Any],
        *,
        event_id: str | None = None,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
    ) -> httpx.Response:
        """An event of Stripe's documented shape, signed as Stripe signs (``t=…,v1=…``:
        HMAC-SHA256 of ``timestamp.payload``), posted over HTTP."""
        event = {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2026-09-30.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
            "data": {"object": obj},
        }
        payload = json.dumps(event).encode()
        return self.post_raw(payload, secret=secret, timestamp=timestamp)

    def post_raw(
        self, payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
    ) -> httpx.Response:
        t = int(time.time()) if timestamp is None else timestamp
        signature = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256)
        return _post(
            f"{self.base_url}/webhooks/stripe",
            content=payload,
            headers={
                "Stripe-Signature": f"t={t},v1={signature.hexdigest()}",
                "Content-Type": "application/json",
            },
        )

    def available(self, who: Someone) -> int:
        return self.world.available(who)

    def owed(self, who: Someone) -> int:
        return int(self.app.reversals.owed(who.member.id).minor)

    def topup(self, topup_id: str, who: Someone) -> Topup:
        topup: Topup = self.app.funding.get(who.member.id, topup_id)
        return topup


def _credits(engine: Engine, topup_id: str) -> int:
    """Ledger transfers that credited this top-up to a wallet."""
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(ledger_transfers)
            .where(ledger_transfers.c.reference == topup_id, ledger_transfers.c.code == "topup")
        ).scalar_one()
    return int(count)


def _wait(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture
def live(engine: Engine, database_url: str, localstripe_url: str) -> Iterator[Live]:
    _delete(f"{localstripe_url}/_config/data").raise_for_status()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    world = make_world(
        database_url,
        base_url=base_url,
        card_processor="stripe",
        stripe=StripeSettings(
            secret_key=SECRET_KEY,  # type: ignore[arg-type]
            publishable_key=PUBLISHABLE_KEY,
            webhook_secret=WEBHOOK_SECRET,  # type: ignore[arg-type]
            api_base=localstripe_url,
            redirect_3ds=False,  # localstripe knows no return_url
        ),
    )
    _post(
        f"{localstripe_url}/_config/webhooks/envoi",
        data={"url": f"{base_url}/webhooks/stripe", "secret": WEBHOOK_SECRET},
    ).raise_for_status()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(world.app, run_workers=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started)
    try:
        yield Live(world, base_url, localstripe_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        world.app.engine.dispose()


# --- top-ups ----------------------------------------------------------------------------


def test_a_top_up_succeeds_and_the_webhook_after_it_changes_nothing(
    live: Live, engine: Engine
) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 25_00)
    assert topup.status == "succeeded"
    assert topup.processor_ref.startswith("pi_")
    assert live.available(alice) == 25_00
    intent = live.stripe_object(f"payment_intents/{topup.processor_ref}")
    assert intent["metadata"] == {"envoi_topup": topup.id}
    assert intent["amount"] == 25_00
    # localstripe sends payment_intent.succeeded about a second later: applied once.
    time.sleep(1.6)
    assert live.available(alice) == 25_00
    assert _credits(engine, topup.id) == 1


def test_a_declined_card_credits_nothing(live: Live, engine: Engine) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 10_00, "pm_card_chargeCustomerFail")
    assert topup.status == "declined"
    assert topup.decline_code == "card_declined"
    time.sleep(1.6)  # its payment_intent.payment_failed webhook
    assert live.available(alice) == 0
    assert _credits(engine, topup.id) == 0


def test_raw_card_numbers_are_refused(live: Live) -> None:
    alice = live.member("alice")
    with pytest.raises(EnvoiError) as caught:
        live.app.funding.top_up(
            alice.member.id,
            10_00,
            CardDetails("4242424242424242", 12, 2034, "123"),
            request_key="k",
        )
    assert caught.value.code is ErrorCode.CARD_INVALID


def test_3ds_then_the_return_credits(live: Live, engine: Engine) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 30_00, live.card("4000002760003184"))
    assert topup.status == "requires_action"
    assert topup.action_url is not None
    assert "/wallet/topup/authenticate?payment_intent=" in topup.action_url
    assert live.available(alice) == 0
    live.authenticate(topup.processor_ref, success=True)
    back = live.back_from_3ds(topup.processor_ref)
    assert back.status_code == 303
    assert back.headers["location"] == f"/wallet/topup?request_id={topup.id}"
    assert live.topup(topup.id, alice).status == "succeeded"
    assert live.available(alice) == 30_00
    time.sleep(1.6)  # localstripe's payment_intent.succeeded: nothing more
    assert _credits(engine, topup.id) == 1


def test_3ds_credited_by_the_webhook_alone(live: Live, engine: Engine) -> None:
    """The cardholder never comes back (closed the tab): Stripe's webhook credits."""
    alice = live.member("alice")
    topup = live.top_up(alice, 12_00, live.card("4000000000003220"))
    live.authenticate(topup.processor_ref, success=True)
    _wait(lambda: live.topup(topup.id, alice).status == "succeeded")
    assert live.available(alice) == 12_00
    assert _credits(engine, topup.id) == 1


def test_3ds_failed_is_declined(live: Live, engine: Engine) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 12_00, live.card("4000002760003184"))
    live.authenticate(topup.processor_ref, success=False)
    live.back_from_3ds(topup.processor_ref)
    done = live.topup(topup.id, alice)
    assert done.status == "declined"
    assert done.decline_code == "payment_intent_authentication_failure"
    assert live.available(alice) == 0
    assert _credits(engine, topup.id) == 0


def test_return_and_webhook_together_credit_once(live: Live, engine: Engine) -> None:
    """The cardholder's return and Stripe's webhook race: several of each at once."""
    alice = live.member("alice")
    topup = live.top_up(alice, 40_00, live.card("4000002760003184"))
    live.authenticate(topup.processor_ref, success=True)
    # The succeeded PaymentIntent exactly as Stripe (here localstripe) shows it now.
    intent = live.stripe_object(f"payment_intents/{topup.processor_ref}")
    assert intent["status"] == "succeeded"
    start = threading.Barrier(8)

    def returning() -> int:
        start.wait()
        return live.back_from_3ds(topup.processor_ref).status_code

    def webhook(n: int) -> int:
        start.wait()
        return live.post_event(
            "payment_intent.succeeded", intent, event_id=f"evt_race_{n}"
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(returning) for _ in range(4)]
        futures += [pool.submit(webhook, n) for n in range(4)]
        codes = [f.result() for f in futures]
    assert codes == [303] * 4 + [200] * 4
    time.sleep(1.6)  # and localstripe's own webhook
    assert live.available(alice) == 40_00
    assert _credits(engine, topup.id) == 1
    notices = [
        n for n in live.app.wallet.notifications(alice.member.id) if n["code"] == "topup_succeeded"
    ]
    assert len(notices) == 1


# --- webhooks: only Stripe's, only once -------------------------------------------------


def test_forged_and_stale_webhooks_are_refused(live: Live, engine: Engine) -> None:
    """A dispute event is believed as signed (localstripe has no disputes to read back):
    one signed with another secret, too old, or unsigned freezes nothing."""
    alice = live.member("alice")
    topup = live.top_up(alice, 20_00)
    dispute = _dispute(_charge_id(live, topup), topup.processor_ref, 20_00)
    forged = live.post_event("charge.dispute.created", dispute, secret="whsec_not_ours_" + "1" * 16)
    stale = live.post_event("charge.dispute.created", dispute, timestamp=int(time.time()) - 301)
    unsigned = _post(
        f"{live.base_url}/webhooks/stripe",
        json={"id": "evt_x", "type": "charge.dispute.created", "data": {"object": dispute}},
    )
    assert [forged.status_code, stale.status_code, unsigned.status_code] == [400, 400, 400]
    assert live.available(alice) == 20_00
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(card_disputes)).scalar_one() == 0
    # The same event, signed with the endpoint's secret and fresh, is believed.
    assert live.post_event("charge.dispute.created", dispute).json()["outcome"] == "applied"
    assert live.available(alice) == 0


def test_a_tampered_body_is_refused(live: Live) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 20_00)
    charge = live.stripe_object(f"payment_intents/{topup.processor_ref}")["latest_charge"]
    obj = {**_dispute(charge, topup.processor_ref, 20_00), "status": "needs_response"}
    payload = json.dumps({"id": "evt_t", "type": "charge.dispute.created", "data": {"object": obj}})
    t = int(time.time())
    good = hmac.new(WEBHOOK_SECRET.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    tampered = payload.replace('"amount": 2000,', '"amount": 200,').encode()
    assert tampered != payload.encode()
    reply = _post(
        f"{live.base_url}/webhooks/stripe",
        content=tampered,
        headers={"Stripe-Signature": f"t={t},v1={good}"},
    )
    assert reply.status_code == 400
    assert live.available(alice) == 20_00


# --- refunds ----------------------------------------------------------------------------


def test_operator_refund_up_to_what_the_member_holds(live: Live, engine: Engine) -> None:
    alice, bob = live.member("alice"), live.member("bob")
    topup = live.top_up(alice, 50_00)
    first = live.app.reversals.refund(topup.id, 10_00)
    assert first.refund.status == "succeeded"
    assert first.refund.processor_refund_ref.startswith("re_")
    assert first.not_refunded.minor == 0
    assert live.available(alice) == 40_00
    charge = live.stripe_object(f"charges/{_charge_id(live, topup)}")
    assert charge["amount_refunded"] == 10_00
    # Alice spends 35 €: she holds 5 € of the 40 € left of the card payment.
    live.world.post(alice, "@SmoneyFR #envoyer 35€ @bob")
    live.app.lifecycle.confirm(alice.member.id, live.world.pending(alice)[0], PIN)
    assert live.available(alice) == 5_00
    second = live.app.reversals.refund(topup.id, 40_00)
    assert second.refund.amount.minor == 5_00
    assert second.not_refunded.minor == 35_00  # stays: the CLI reports it as an error
    assert live.available(alice) == 0
    assert live.available(bob) == 35_00  # never taken from someone else
    with pytest.raises(EnvoiError) as caught:
        live.app.reversals.refund(topup.id, 1_00)
    assert caught.value.code is ErrorCode.REFUND_EXCEEDS_BALANCE
    with pytest.raises(EnvoiError) as caught:
        live.app.reversals.refund(topup.id, 36_00)  # more than is left of the card payment
    assert caught.value.code is ErrorCode.REFUND_EXCEEDS_PAYMENT
    charge = live.stripe_object(f"charges/{_charge_id(live, topup)}")
    assert charge["amount_refunded"] == 15_00
    # Stripe's charge.refunded for our own refunds (localstripe sends none): nothing more.
    reply = live.post_event("charge.refunded", _refunded_charge(charge, topup.processor_ref))
    assert reply.json()["outcome"] == "applied"
    assert live.available(alice) == 0
    assert live.owed(alice) == 0
    with engine.connect() as conn:
        refunded = conn.execute(select(func.sum(card_refunds.c.amount_minor))).scalar_one()
    assert refunded == 15_00


def test_a_refund_made_at_stripe_leaves_the_wallet_and_the_rest_is_owed(live: Live) -> None:
    """A refund from Stripe's dashboard: learnt from charge.refunded (documented shape;
    localstripe sends no such event), taken from the wallet, the rest owed."""
    alice, bob = live.member("alice"), live.member("bob")
    topup = live.top_up(alice, 20_00)
    live.world.post(alice, "@SmoneyFR #envoyer 15€ @bob")
    live.app.lifecycle.confirm(alice.member.id, live.world.pending(alice)[0], PIN)
    _post(
        f"{live.stripe_url}/v1/refunds",
        auth=(SECRET_KEY, ""),
        data={"payment_intent": topup.processor_ref, "amount": "2000"},
    ).raise_for_status()
    charge = live.stripe_object(f"charges/{_charge_id(live, topup)}")
    assert charge["amount_refunded"] == 20_00
    event = _refunded_charge(charge, topup.processor_ref)
    assert (
        live.post_event("charge.refunded", event, event_id="evt_dash").json()["outcome"]
        == "applied"
    )
    assert (
        live.post_event("charge.refunded", event, event_id="evt_dash").json()["outcome"]
        == "duplicate"
    )
    assert live.available(alice) == 0
    assert live.owed(alice) == 15_00
    assert live.available(bob) == 15_00
    with pytest.raises(EnvoiError) as caught:
        live.app.reversals.require_nothing_owed(alice.member.id)
    assert caught.value.code is ErrorCode.RECEIVABLE_OUTSTANDING
    # Her next top-up pays it back first.
    live.top_up(alice, 20_00)
    assert live.owed(alice) == 0
    assert live.available(alice) == 5_00
    live.app.reversals.require_nothing_owed(alice.member.id)


# --- disputes (localstripe has none: Stripe's documented event shapes, signed) ------------


def test_a_lost_dispute_posts_the_frozen_amount(live: Live, engine: Engine) -> None:
    alice, bob = live.member("alice"), live.member("bob")
    topup = live.top_up(alice, 30_00)
    charge = _charge_id(live, topup)
    dispute = _dispute(charge, topup.processor_ref, 30_00)
    opened = live.post_event("charge.dispute.created", dispute, event_id="evt_dp_open")
    assert opened.json()["outcome"] == "applied"
    again = live.post_event("charge.dispute.created", dispute, event_id="evt_dp_open")
    assert again.json()["outcome"] == "duplicate"
    assert live.available(alice) == 0  # frozen: a pending debit
    assert live.world.posted(alice) == 30_00
    # Frozen money cannot be spent.
    live.world.post(alice, "@SmoneyFR #envoyer 5€ @bob")
    assert live.world.pending(alice) == []
    closed = live.post_event("charge.dispute.closed", {**dispute, "status": "lost"})
    assert closed.json()["outcome"] == "applied"
    assert live.world.posted(alice) == 0
    assert live.available(alice) == 0
    assert live.available(bob) == 0
    assert live.owed(alice) == 0
    with engine.connect() as conn:
        assert conn.execute(select(card_disputes.c.status)).scalar_one() == "lost"


def test_a_won_dispute_gives_the_money_back(live: Live) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 30_00)
    dispute = _dispute(_charge_id(live, topup), topup.processor_ref, 30_00)
    live.post_event("charge.dispute.created", dispute)
    assert live.available(alice) == 0
    live.post_event("charge.dispute.closed", {**dispute, "status": "won"})
    assert live.available(alice) == 30_00
    assert live.world.posted(alice) == 30_00


def test_a_dispute_over_spent_money_is_owed_never_a_negative_wallet(live: Live) -> None:
    alice, bob = live.member("alice"), live.member("bob")
    topup = live.top_up(alice, 30_00)
    live.world.post(alice, "@SmoneyFR #envoyer 20€ @bob")
    live.app.lifecycle.confirm(alice.member.id, live.world.pending(alice)[0], PIN)
    dispute = _dispute(_charge_id(live, topup), topup.processor_ref, 30_00)
    live.post_event("charge.dispute.created", dispute)
    assert live.available(alice) == 0
    assert live.owed(alice) == 20_00  # the shortfall, pending until the bank decides
    live.post_event("charge.dispute.closed", {**dispute, "status": "lost"})
    assert live.world.posted(alice) == 0
    assert live.owed(alice) == 20_00
    assert live.available(bob) == 20_00
    balance = live.app.wallet.balance(alice.member.id)
    assert balance.posted >= 0
    with pytest.raises(EnvoiError):
        live.app.reversals.require_nothing_owed(alice.member.id)
    live.top_up(alice, 25_00)
    assert live.owed(alice) == 0
    assert live.available(alice) == 5_00


def test_a_close_that_overtakes_its_open(live: Live) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 10_00)
    dispute = _dispute(_charge_id(live, topup), topup.processor_ref, 10_00)
    live.post_event("charge.dispute.closed", {**dispute, "status": "lost"})
    live.post_event("charge.dispute.created", dispute)
    assert live.world.posted(alice) == 0
    assert live.available(alice) == 0


# --- reconciliation ----------------------------------------------------------------------


def test_reconcile_matches_then_reports_differences(live: Live, engine: Engine) -> None:
    alice = live.member("alice")
    since = datetime(2026, 1, 1, tzinfo=UTC)
    paid = live.top_up(alice, 20_00)
    live.top_up(alice, 5_00, "pm_card_chargeCustomerFail")
    live.app.reversals.refund(paid.id, 4_00)
    assert live.app.reconciliation.differences(since) == []
    # A payment nobody in envoi made, and a refund made behind envoi's back.
    _post(
        f"{live.stripe_url}/v1/payment_intents",
        auth=(SECRET_KEY, ""),
        data={
            "amount": "700",
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": "true",
        },
    ).raise_for_status()
    _post(
        f"{live.stripe_url}/v1/refunds",
        auth=(SECRET_KEY, ""),
        data={"payment_intent": paid.processor_ref, "amount": "100"},
    ).raise_for_status()
    codes = sorted(d.code for d in live.app.reconciliation.differences(since))
    assert codes == ["not_from_envoi", "refund_mismatch", "unknown_charge", "unknown_refund"]


# --- refunds whose answer never came (network errors at the HTTP boundary) ---------------


class _AnswerLost(stripe.HTTPClient):
    """Stand-in for a network that breaks during a refund: the stripe library's HTTP
    client, passing every request on to localstripe except refund creations while
    ``broken``: the first one reaches localstripe and its answer is lost (connection
    reset), the library's retries never leave (network down)."""

    name = "answer-lost"

    def __init__(self) -> None:
        super().__init__()
        self.inner = stripe.new_default_http_client()
        self.broken = True
        self.delivered = 0

    def request(
        self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None
    ) -> tuple[str, int, Any]:
        if self.broken and method.lower() == "post" and urlsplit(url).path == "/v1/refunds":
            if not self.delivered:
                self.delivered += 1
                self.inner.request(method, url, headers, post_data)
            raise stripe.APIConnectionError("Connection reset by peer (test)", should_retry=True)
        answer: tuple[str, int, Any] = self.inner.request(method, url, headers, post_data)
        return answer

    def close(self) -> None:
        self.inner.close()


def _reach_stripe(
    live: Live, api_base: str | None = None, http_client: stripe.HTTPClient | None = None
) -> None:
    """envoi's Stripe client from now on: another address, or another transport."""
    processor = live.app.ctx.processor
    assert isinstance(processor, StripeCardProcessor)
    processor.client = StripeCardProcessor(
        SECRET_KEY,
        base_url=live.base_url,
        api_base=api_base or live.stripe_url,
        http_client=http_client,
    ).client


def _cli(live: Live, *args: str) -> str:
    """``envoi …`` in its own process' settings (the environment), on the same database
    and localstripe; the real clock."""
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli.app,
            list(args),
            env={
                "ENVOI_DATABASE_URL": live.app.settings.database_url,
                "ENVOI_SANDBOX": "1",
                "ENVOI_CARD_PROCESSOR": "stripe",
                "ENVOI_STRIPE__SECRET_KEY": SECRET_KEY,
                "ENVOI_STRIPE__PUBLISHABLE_KEY": PUBLISHABLE_KEY,
                "ENVOI_STRIPE__WEBHOOK_SECRET": WEBHOOK_SECRET,
                "ENVOI_STRIPE__API_BASE": live.stripe_url,
            },
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def _refund_row(engine: Engine, refund_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(card_refunds).where(card_refunds.c.id == refund_id)).one()


def _only_refund_id(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(card_refunds.c.id)).scalar_one())


def test_a_refund_stripe_never_received_releases_its_hold_on_resume(
    live: Live, engine: Engine
) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 30_00)
    _reach_stripe(live, api_base=f"http://127.0.0.1:{_free_port()}")  # nothing listens
    with pytest.raises(EnvoiError) as caught:
        live.app.reversals.refund(topup.id, 10_00)
    assert caught.value.code is ErrorCode.REFUND_PENDING
    refund_id = _only_refund_id(engine)
    assert caught.value.params["refund_id"] == refund_id
    assert live.available(alice) == 20_00  # held while nobody knows
    assert live.world.posted(alice) == 30_00
    _reach_stripe(live)  # the network is back
    resume = live.app.jobs["resume_refunds"]
    assert resume() == 0  # too recent: its request could still be under way
    live.world.clock.advance(seconds=600)
    assert resume() == 1
    assert _refund_row(engine, refund_id).status == "failed"
    assert live.available(alice) == 30_00
    assert live.world.posted(alice) == 30_00
    assert live.stripe_object(f"charges/{_charge_id(live, topup)}")["amount_refunded"] == 0
    assert resume() == 0  # idempotent
    assert live.available(alice) == 30_00
    # Nothing was refunded: it can be asked again, and goes through.
    again = live.app.reversals.refund(topup.id, 10_00)
    assert again.refund.status == "succeeded"
    assert live.available(alice) == 20_00


def test_a_refund_whose_answer_was_lost_is_posted_on_resume(live: Live, engine: Engine) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 30_00)
    transport = _AnswerLost()
    _reach_stripe(live, http_client=transport)
    with pytest.raises(EnvoiError) as caught:
        live.app.reversals.refund(topup.id, 10_00)
    assert caught.value.code is ErrorCode.REFUND_PENDING
    assert transport.delivered == 1
    # Made at Stripe, unknown to envoi: still held.
    assert live.stripe_object(f"charges/{_charge_id(live, topup)}")["amount_refunded"] == 10_00
    assert live.available(alice) == 20_00
    assert live.world.posted(alice) == 30_00
    transport.broken = False
    refund_id = _only_refund_id(engine)
    out = _cli(live, "psp", "refund", "--resume", "--older-than-s", "0")
    row = _refund_row(engine, refund_id)
    assert row.status == "succeeded"
    assert row.processor_refund_ref.startswith("re_")
    assert f"{refund_id}: refunded (€10.00, {row.processor_refund_ref})" in out
    assert "1 pending refund(s) finished." in out
    assert live.available(alice) == 20_00
    assert live.world.posted(alice) == 20_00
    assert live.app.reversals.resume(older_than_s=0) == []  # idempotent
    live.world.clock.advance(seconds=600)
    assert live.app.jobs["resume_refunds"]() == 0
    assert live.world.posted(alice) == 20_00
    notices = [n["code"] for n in live.app.wallet.notifications(alice.member.id)]
    assert notices.count("card_refunded") == 1
    assert live.app.reconciliation.differences(datetime(2026, 1, 1, tzinfo=UTC)) == []


# --- refunds that fail at Stripe after they were made (documented shapes, signed) --------


def _refund_object(
    refund_ref: str,
    payment_intent: str,
    charge: str,
    amount: int,
    *,
    status: str = "failed",
    envoi_refund: str | None = None,
) -> dict[str, Any]:
    """A Refund object as Stripe documents it (API reference, "The Refund object"): a
    failed one has ``failure_reason`` and a ``failure_balance_transaction`` putting the
    money back in the merchant's balance."""
    failed = status == "failed"
    return {
        "id": refund_ref,
        "object": "refund",
        "amount": amount,
        "balance_transaction": f"txn_{refund_ref[3:]}",
        "charge": charge,
        "created": int(time.time()),
        "currency": "eur",
        "failure_balance_transaction": f"txn_fail_{refund_ref[3:]}" if failed else None,
        "failure_reason": "expired_or_canceled_card" if failed else None,
        "metadata": {"envoi_refund": envoi_refund} if envoi_refund else {},
        "payment_intent": payment_intent,
        "reason": None,
        "status": status,
    }


def test_a_refund_that_fails_at_stripe_puts_the_money_back(live: Live, engine: Engine) -> None:
    alice = live.member("alice")
    topup = live.top_up(alice, 30_00)
    made = live.app.reversals.refund(topup.id, 10_00).refund
    assert live.available(alice) == 20_00
    failed = _refund_object(
        made.processor_refund_ref or "",
        topup.processor_ref,
        _charge_id(live, topup),
        10_00,
        envoi_refund=made.id,
    )
    reply = live.post_event("refund.failed", failed, event_id="evt_rf_1")
    assert reply.json()["outcome"] == "applied"
    assert live.available(alice) == 30_00
    assert live.world.posted(alice) == 30_00
    assert _refund_row(engine, made.id).status == "failed"
    # Delivered again, or told again as charge.refund.updated: put back once.
    again = live.post_event("refund.failed", failed, event_id="evt_rf_1")
    assert again.json()["outcome"] == "duplicate"
    live.post_event("charge.refund.updated", failed, event_id="evt_rf_2")
    assert live.available(alice) == 30_00
    # An update that is not a failure moves nothing.
    ok = _refund_object(
        "re_other", topup.processor_ref, _charge_id(live, topup), 10_00, status="succeeded"
    )
    assert live.post_event("charge.refund.updated", ok).json()["outcome"] == "ignored"
    notices = [n["code"] for n in live.app.wallet.notifications(alice.member.id)]
    assert notices.count("card_refund_failed") == 1
    # The failed refund no longer counts: all 30 € can be refunded now.
    assert live.app.reversals.refund(topup.id, 30_00).refund.amount.minor == 30_00
    assert live.available(alice) == 0


def test_a_failed_refund_while_ours_is_still_held_voids_the_hold(
    live: Live, engine: Engine
) -> None:
    """refund.failed overtakes the resume of a refund whose answer was lost."""
    alice = live.member("alice")
    topup = live.top_up(alice, 30_00)
    transport = _AnswerLost()
    _reach_stripe(live, http_client=transport)
    with pytest.raises(EnvoiError):
        live.app.reversals.refund(topup.id, 10_00)
    refund_id = _only_refund_id(engine)
    transport.broken = False
    (made,) = live.stripe_object(f"refunds?payment_intent={topup.processor_ref}")["data"]
    failed = _refund_object(
        made["id"], topup.processor_ref, _charge_id(live, topup), 10_00, envoi_refund=refund_id
    )
    assert live.post_event("refund.failed", failed).json()["outcome"] == "applied"
    assert _refund_row(engine, refund_id).status == "failed"
    assert live.available(alice) == 30_00
    assert live.world.posted(alice) == 30_00
    assert live.app.reversals.resume(older_than_s=0) == []  # nothing left to resume
    assert live.available(alice) == 30_00


def test_a_failed_dashboard_refund_pays_back_what_is_owed_first(live: Live) -> None:
    """A refund made in Stripe's dashboard (no envoi metadata) took the wallet and left a
    debt; when it fails, the money comes back, the debt is paid from it first."""
    alice, bob = live.member("alice"), live.member("bob")
    topup = live.top_up(alice, 20_00)
    live.world.post(alice, "@SmoneyFR #envoyer 15€ @bob")
    live.app.lifecycle.confirm(alice.member.id, live.world.pending(alice)[0], PIN)
    made = _post(
        f"{live.stripe_url}/v1/refunds",
        auth=(SECRET_KEY, ""),
        data={"payment_intent": topup.processor_ref, "amount": "2000"},
    )
    made.raise_for_status()
    charge = live.stripe_object(f"charges/{_charge_id(live, topup)}")
    live.post_event("charge.refunded", _refunded_charge(charge, topup.processor_ref))
    assert (live.available(alice), live.owed(alice)) == (0, 15_00)
    failed = _refund_object(made.json()["id"], topup.processor_ref, charge["id"], 20_00)
    assert live.post_event("refund.failed", failed).json()["outcome"] == "applied"
    assert (live.available(alice), live.owed(alice)) == (5_00, 0)
    assert live.available(bob) == 15_00
    live.app.reversals.require_nothing_owed(alice.member.id)
    # The same failure told again (another event id) changes nothing.
    live.post_event("charge.refund.updated", failed)
    assert (live.available(alice), live.owed(alice)) == (5_00, 0)


def _charge_id(live: Live, topup: Topup) -> str:
    charge = live.stripe_object(f"payment_intents/{topup.processor_ref}")["latest_charge"]
    return str(charge["id"] if isinstance(charge, dict) else charge)


def _dispute(charge: Any, payment_intent: str, amount: int) -> dict[str, Any]:
    """A Dispute object as Stripe documents it (API reference, "The Dispute object")."""
    return {
        "id": f"du_{hashlib.sha256(str(charge).encode()).hexdigest()[:24]}",
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge if isinstance(charge, str) else charge["id"],
        "created": int(time.time()),
        "currency": "eur",
        "evidence_details": {"due_by": int(time.time()) + 7 * 86400, "has_evidence": False},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": "needs_response",
    }


def _refunded_charge(charge: dict[str, Any], payment_intent: str) -> dict[str, Any]:
    """A Charge object as charge.refunded carries it (documented fields only)."""
    return {
        "id": charge["id"],
        "object": "charge",
        "amount": charge["amount"],
        "amount_refunded": charge["amount_refunded"],
        "currency": charge["currency"],
        "payment_intent": payment_intent,
        "refunded": charge["amount_refunded"] >= charge["amount"],
        "status": "succeeded",
        "livemode": False,
    }


# --- the wallet page with Stripe.js ------------------------------------------------------


def _signed_in(live: Live, who: Someone) -> httpx.Client:
    browser = httpx.Client(base_url=live.base_url, timeout=TIMEOUT, follow_redirects=False)
    form = browser.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    signed = browser.post(
        "/login",
        data={
            "email": f"{who.handle}@example.org",
            "password": "long enough password",
            "csrf": csrf.group(1),
        },
    )
    assert signed.status_code == 303, signed.text
    return browser


def _form_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


def test_the_wallet_page_takes_the_card_through_stripe_js(live: Live, engine: Engine) -> None:
    """No card field of ours: Stripe.js (not loadable offline, so its part is played here
    with Stripe's documented test PaymentMethods) posts only the PaymentMethod id."""
    alice = live.member("alice")
    with closing(_signed_in(live, alice)) as browser:
        page = browser.get("/wallet/topup")
        assert page.status_code == 200
        assert '<script src="https://js.stripe.com/v3/">' in page.text
        assert f'data-key="{PUBLISHABLE_KEY}"' in page.text
        assert 'name="card_number"' not in page.text
        assert "script-src 'self' https://js.stripe.com" in page.headers["content-security-policy"]
        fields = _form_fields(page.text)
        assert fields["payment_method"] == ""
        paid = browser.post(
            "/wallet/topup",
            data={**fields, "amount": "15", "payment_method": "pm_card_visa"},
        )
        assert paid.status_code == 303
        assert paid.headers["location"].startswith("/wallet?topup=top_")
        assert live.available(alice) == 15_00
        # 3-D Secure in the page, then back to the wallet.
        page = browser.get("/wallet/topup")
        challenge = browser.post(
            "/wallet/topup",
            data={
                **_form_fields(page.text),
                "amount": "8",
                "payment_method": live.card("4000002760003184"),
            },
        )
        assert challenge.status_code == 303
        location = challenge.headers["location"]
        assert "/wallet/topup/authenticate?payment_intent=pi_" in location
        payment_intent = location.rsplit("=", 1)[1]
        shown = browser.get(location)
        assert shown.status_code == 200
        assert f'data-secret="{payment_intent}_secret_' in shown.text
        assert f'data-back="/wallet/topup/return?payment_intent={payment_intent}"' in shown.text
        live.authenticate(payment_intent, success=True)  # what Stripe.js does with the secret
        back = browser.get(f"/wallet/topup/return?payment_intent={payment_intent}")
        assert back.status_code == 303
        result = browser.get(back.headers["location"])
        assert 'id="topup-result"' in result.text
        assert live.available(alice) == 23_00
        # Someone else's challenge is not shown to her.
    bob = live.member("bob")
    with closing(_signed_in(live, bob)) as browser:
        assert browser.get(location).status_code == 303


def test_the_api_takes_a_payment_method(live: Live) -> None:
    alice = live.member("alice")
    token = live.app.members.issue_token("alice@example.org", "long enough password")
    headers = {"Authorization": f"Bearer {token}"}
    made = _post(
        f"{live.base_url}/api/v1/me/topups",
        json={"amount_minor": 9_00, "payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "succeeded"
    both = _post(
        f"{live.base_url}/api/v1/me/topups",
        json={
            "amount_minor": 9_00,
            "payment_method": "pm_card_visa",
            "card_number": "4242424242424242",
        },
        headers=headers,
    )
    assert both.status_code == 422
    assert live.available(alice) == 9_00
