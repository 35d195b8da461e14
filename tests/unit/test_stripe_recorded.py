"""The Stripe adapter against recorded responses of Stripe's documented shapes, for what
localstripe does not implement: ``return_url`` and ``redirect_to_url`` 3-D Secure, the
PaymentIntent named in a card error, the Search API, idempotency keys as sent (localstripe
ignores them), idempotency errors. No network: a recording HTTP client of the library."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from envoi.adapters.psp.stripe import StripeCardProcessor, translate
from envoi.bootstrap import ConfigurationError, bootstrap
from envoi.config import Settings, StripeSettings
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.money import Money
from envoi.services.ports import CardToken

BASE = "https://wallet.example"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


class Recorded(stripe.HTTPClient):
    """Answers each (method, path) with the next recorded response, remembers each call."""

    name = "recorded"

    def __init__(self, answers: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]]) -> None:
        super().__init__()
        self.answers = answers
        self.calls: list[Call] = []

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, dict[str, str]]:
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        form = parse_qs(body or parts.query)
        self.calls.append(Call(method.upper(), parts.path, dict(headers or {}), form))
        status, answer = self.answers[(method.upper(), parts.path)].pop(0)
        return json.dumps(answer), status, {"request-id": "req_recorded"}

    def close(self) -> None:
        pass


def processor(
    answers: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]],
) -> tuple[StripeCardProcessor, Recorded]:
    client = Recorded(answers)
    return StripeCardProcessor("sk_test_recorded", base_url=BASE, http_client=client), client


def intent(status: str, **fields: Any) -> dict[str, Any]:
    """A PaymentIntent as the API reference documents it (fields envoi reads, and some)."""
    return {
        "id": "pi_3Recorded",
        "object": "payment_intent",
        "amount": 2500,
        "amount_received": 2500 if status == "succeeded" else 0,
        "client_secret": "pi_3Recorded_secret_abc",
        "created": 1796160000,
        "currency": "eur",
        "latest_charge": None,
        "livemode": False,
        "metadata": {"envoi_topup": "top_1"},
        "next_action": None,
        "last_payment_error": None,
        "payment_method": "pm_card_authenticationRequired",
        "status": status,
        **fields,
    }


REDIRECT = {
    "type": "redirect_to_url",
    "redirect_to_url": {
        "return_url": f"{BASE}/wallet/topup/return",
        "url": "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1&payment_intent=pi_3Recorded",
    },
}


def test_3ds_by_redirect_sends_the_return_url_and_follows_redirect_to_url() -> None:
    psp, http = processor(
        {("POST", "/v1/payment_intents"): [(200, intent("requires_action", next_action=REDIRECT))]}
    )
    result = psp.charge("top_1", Money(2500, "EUR"), CardToken("pm_card_authenticationRequired"))
    assert result.status == "requires_action"
    assert result.action_url == REDIRECT["redirect_to_url"]["url"]  # type: ignore[index]
    (call,) = http.calls
    assert call.form["return_url"] == [f"{BASE}/wallet/topup/return"]
    assert call.form["confirm"] == ["true"]
    assert call.form["payment_method"] == ["pm_card_authenticationRequired"]
    assert call.form["metadata[envoi_topup]"] == ["top_1"]
    assert call.form["amount"] == ["2500"]
    assert call.form["currency"] == ["eur"]


def test_every_create_carries_an_idempotency_key_and_a_retry_the_same() -> None:
    refund = {
        "id": "re_1",
        "object": "refund",
        "amount": 500,
        "currency": "eur",
        "payment_intent": "pi_3Recorded",
        "status": "pending",
    }
    psp, http = processor(
        {
            ("POST", "/v1/payment_intents"): [(200, intent("succeeded"))] * 2,
            ("POST", "/v1/refunds"): [(200, refund)],
        }
    )
    psp.charge("top_1", Money(2500, "EUR"), CardToken("pm_card_visa"))
    psp.charge("top_1", Money(2500, "EUR"), CardToken("pm_card_visa"))
    assert psp.refund("rfd_1", "pi_3Recorded", Money(500, "EUR")).status == "pending"
    keys = [c.headers.get("Idempotency-Key") for c in http.calls]
    assert keys == ["envoi-charge-top_1", "envoi-charge-top_1", "envoi-refund-rfd_1"]
    assert http.calls[2].form["amount"] == ["500"]


def test_a_declined_card_names_its_payment_intent() -> None:
    declined = intent(
        "requires_payment_method",
        id="pi_3Declined",
        last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"},
    )
    error = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "charge": "ch_3Declined",
            "payment_intent": declined,
        }
    }
    psp, _ = processor({("POST", "/v1/payment_intents"): [(402, error)]})
    result = psp.charge("top_2", Money(2500, "EUR"), CardToken("pm_card_visa_chargeDeclined"))
    assert (result.processor_ref, result.status, result.decline_code) == (
        "pi_3Declined",
        "declined",
        "insufficient_funds",
    )


def test_an_idempotency_error_is_a_conflict() -> None:
    error = {
        "error": {
            "type": "idempotency_error",
            "message": "Keys for idempotent requests can only be used with the same parameters",
        }
    }
    psp, _ = processor({("POST", "/v1/payment_intents"): [(400, error)]})
    with pytest.raises(EnvoiError) as caught:
        psp.charge("top_1", Money(9900, "EUR"), CardToken("pm_card_visa"))
    assert caught.value.code is ErrorCode.IDEMPOTENCY_CONFLICT


def test_find_uses_the_search_api_by_metadata() -> None:
    found = {
        "object": "search_result",
        "data": [intent("succeeded")],
        "has_more": False,
        "next_page": None,
        "url": "/v1/payment_intents/search",
    }
    empty = {**found, "data": []}
    psp, http = processor(
        {
            ("GET", "/v1/payment_intents/search"): [(200, found), (200, empty)],
            ("GET", "/v1/payment_intents/pi_3Recorded"): [(200, intent("succeeded"))],
        }
    )
    result = psp.find("top_1")
    assert result is not None
    assert (result.processor_ref, result.status, result.request_id) == (
        "pi_3Recorded",
        "succeeded",
        "top_1",
    )
    assert http.calls[0].form["query"] == ["metadata['envoi_topup']:'top_1'"]
    assert psp.find("top_9") is None


def test_events_of_the_documented_shapes_translate() -> None:
    dispute = {
        "id": "du_1",
        "object": "dispute",
        "amount": 1500,
        "currency": "eur",
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "status": "lost",
    }
    closed = translate(
        {"id": "evt_1", "type": "charge.dispute.closed", "data": {"object": dispute}}
    )
    assert (closed.kind, closed.payment_ref, closed.dispute_ref, closed.dispute_status) == (
        "dispute_closed",
        "pi_1",
        "du_1",
        "lost",
    )
    assert closed.amount == Money(1500, "EUR")
    other = translate({"id": "evt_2", "type": "customer.created", "data": {"object": {}}})
    assert other.kind == "ignored"


def test_the_stripe_processor_is_chosen_by_setting_and_needs_its_secrets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'envoi.db'}"
    with pytest.raises(ConfigurationError) as refused:
        bootstrap(Settings(database_url=url, card_processor="stripe", _env_file=None))
    assert "ENVOI_STRIPE__SECRET_KEY" in str(refused.value)
    assert "ENVOI_STRIPE__WEBHOOK_SECRET" in str(refused.value)
    app = bootstrap(
        Settings(
            database_url=url,
            card_processor="stripe",
            stripe=StripeSettings(
                secret_key="sk_test_x",  # type: ignore[arg-type]
                webhook_secret="whsec_x",  # type: ignore[arg-type]
            ),
            _env_file=None,
        )
    )
    assert isinstance(app.ctx.processor, StripeCardProcessor)
    assert app.ctx.processor.return_url == "http://127.0.0.1:8000/wallet/topup/return"
    assert "/webhooks" in [prefix for prefix, _ in app.routers]
    assert "/sandbox/psp" not in [prefix for prefix, _ in app.routers]
    app.engine.dispose()
