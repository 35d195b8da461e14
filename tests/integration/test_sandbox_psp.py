"""The sandbox card processor: Stripe's test cards, checks, idempotency, 3-D Secure pages."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from envoi.adapters.psp.sandbox import SandboxCardProcessor, sandbox_psp_charges
from envoi.adapters.psp.sandbox_pages import create_psp_sandbox_router
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.money import Money
from envoi.services.ports import CardDetails

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the httpx it finds works the same.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

BASE_URL = "https://wallet.example"
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
FIVE_EUROS = Money(500, "EUR")


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture
def processor(engine: Engine) -> SandboxCardProcessor:
    return SandboxCardProcessor(engine, BASE_URL + "/", clock=FixedClock())


@pytest.fixture
def updated() -> list[str]:
    return []


@pytest.fixture
def client(processor: SandboxCardProcessor, updated: list[str]) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(create_psp_sandbox_router(processor, updated.append), prefix="/sandbox/psp")
    with TestClient(app) as client:
        yield client


def card(number: str, month: int = 12, year: int = 2030, cvc: str = "123") -> CardDetails:
    return CardDetails(number=number, exp_month=month, exp_year=year, cvc=cvc)


@pytest.mark.parametrize(
    ("number", "status", "decline_code", "last4"),
    [
        ("4242 4242 4242 4242", "succeeded", None, "4242"),
        ("5555-5555-5555-4444", "succeeded", None, "4444"),
        ("4000000000000002", "declined", "card_declined", "0002"),
        ("4000 0000 0000 9995", "declined", "insufficient_funds", "9995"),
        ("4000 0000 0000 0069", "declined", "expired_card", "0069"),
        ("4000 0000 0000 0127", "declined", "incorrect_cvc", "0127"),
        ("4242 4242 4242 4241", "declined", "incorrect_number", "4241"),  # fails Luhn
        ("4242 4242 4242 424x", "declined", "incorrect_number", ""),
        ("4242", "declined", "incorrect_number", "4242"),
        ("4111 1111 1111 1111", "declined", "card_declined", "1111"),  # not a test card
    ],
)
def test_stripe_test_cards(
    processor: SandboxCardProcessor,
    number: str,
    status: str,
    decline_code: str | None,
    last4: str,
) -> None:
    result = processor.charge(f"req-{number}", FIVE_EUROS, card(number))
    assert (result.status, result.decline_code, result.last4) == (status, decline_code, last4)
    assert result.processor_ref.startswith("ch_sbx_")
    assert result.action_url is None
    assert processor.retrieve(result.processor_ref) == result


def test_the_3ds_card_requires_action_with_a_challenge_url(
    processor: SandboxCardProcessor,
) -> None:
    result = processor.charge("req-3ds", FIVE_EUROS, card("4000 0000 0000 3220"))
    assert (result.status, result.decline_code, result.last4) == ("requires_action", None, "3220")
    assert result.action_url == f"{BASE_URL}/sandbox/psp/3ds/{result.processor_ref}"


@pytest.mark.parametrize(
    ("month", "year", "status", "decline_code"),
    [
        (2, 2026, "declined", "expired_card"),  # last month
        (12, 2025, "declined", "expired_card"),
        (3, 2026, "succeeded", None),  # valid through the end of its month
        (3, 26, "succeeded", None),  # two-digit year
        (2, 26, "declined", "expired_card"),
        (13, 2030, "declined", "invalid_expiry_month"),
        (0, 2030, "declined", "invalid_expiry_month"),
    ],
)
def test_expiry_is_checked(
    processor: SandboxCardProcessor, month: int, year: int, status: str, decline_code: str | None
) -> None:
    result = processor.charge(
        f"req-{month}-{year}", FIVE_EUROS, card("4242424242424242", month, year)
    )
    assert (result.status, result.decline_code) == (status, decline_code)


@pytest.mark.parametrize(
    ("cvc", "status"),
    [
        ("123", "succeeded"),
        ("1234", "succeeded"),
        ("12", "declined"),
        ("12345", "declined"),
        ("1a3", "declined"),
        ("", "declined"),
    ],
)
def test_cvc_is_three_or_four_digits(
    processor: SandboxCardProcessor, cvc: str, status: str
) -> None:
    result = processor.charge(f"req-cvc-{cvc}", FIVE_EUROS, card("4242424242424242", cvc=cvc))
    assert result.status == status
    if status == "declined":
        assert result.decline_code == "incorrect_cvc"


def test_only_last4_is_stored_never_the_number_or_cvc(
    processor: SandboxCardProcessor, engine: Engine
) -> None:
    processor.charge("req-store", FIVE_EUROS, card("4242 4242 4242 4242", cvc="987"))
    with engine.connect() as conn:
        row = conn.execute(select(sandbox_psp_charges)).one()._asdict()
    # The text the processor chose to keep; its random hex reference and the timestamps
    # may contain "987" by chance and say nothing about the card.
    stored = " ".join(v for k, v in row.items() if isinstance(v, str) and k != "processor_ref")
    assert row["last4"] == "4242"
    assert "424242424242" not in stored.replace(" ", "")
    assert "987" not in stored
    assert 987 not in row.values()  # nor kept as a number


def test_a_retry_returns_the_first_result(processor: SandboxCardProcessor, engine: Engine) -> None:
    first = processor.charge("req-1", FIVE_EUROS, card("4242424242424242"))
    again = processor.charge("req-1", FIVE_EUROS, card("4242 4242 4242 4242", cvc="999"))
    declined = processor.charge("req-2", FIVE_EUROS, card("4000000000000002"))
    assert again == first
    assert processor.charge("req-2", FIVE_EUROS, card("4000000000000002")) == declined
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(sandbox_psp_charges)).scalar()
    assert count == 2


@pytest.mark.parametrize(
    ("amount", "details"),
    [
        (Money(501, "EUR"), card("4242424242424242")),
        (Money(500, "USD"), card("4242424242424242")),
        (FIVE_EUROS, card("5555555555554444")),
        (FIVE_EUROS, card("4242424242424242", month=11)),
    ],
)
def test_a_request_id_reused_for_another_charge_is_refused(
    processor: SandboxCardProcessor, amount: Money, details: CardDetails
) -> None:
    first = processor.charge("req-1", FIVE_EUROS, card("4242424242424242"))
    with pytest.raises(EnvoiError) as refused:
        processor.charge("req-1", amount, details)
    assert refused.value.code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert processor.retrieve(first.processor_ref) == first


def test_bad_requests_are_refused_before_charging(processor: SandboxCardProcessor) -> None:
    refusals = [
        (
            lambda: processor.charge("req", Money(0, "EUR"), card("4242424242424242")),
            ErrorCode.AMOUNT_OUT_OF_RANGE,
        ),
        (
            lambda: processor.charge("req", Money(-5, "EUR"), card("4242424242424242")),
            ErrorCode.AMOUNT_OUT_OF_RANGE,
        ),
        (
            lambda: processor.charge("", FIVE_EUROS, card("4242424242424242")),
            ErrorCode.VALIDATION_ERROR,
        ),
        (
            lambda: processor.charge("r\x00", FIVE_EUROS, card("4242424242424242")),
            ErrorCode.VALIDATION_ERROR,
        ),
        (
            lambda: processor.charge("req", FIVE_EUROS, card("4242424242424242", year=10**12)),
            ErrorCode.VALIDATION_ERROR,
        ),
        (lambda: processor.retrieve("ch_sbx_nope"), ErrorCode.NOT_FOUND),
    ]
    for call, code in refusals:
        with pytest.raises(EnvoiError) as refused:
            call()
        assert refused.value.code is code


# --- 3-D Secure -----------------------------------------------------------------------


def challenge(processor: SandboxCardProcessor, request_id: str = "req-3ds") -> str:
    return processor.charge(request_id, FIVE_EUROS, card("4000000000003220")).processor_ref


def test_the_challenge_page_offers_approve_and_fail(
    client: TestClient, processor: SandboxCardProcessor
) -> None:
    ref = challenge(processor)
    page = client.get(f"/sandbox/psp/3ds/{ref}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "Authentification 3-D Secure / 3-D Secure authentication" in page.text
    assert page.text.count('<form method="post">') == 2
    assert 'name="outcome" value="approve"' in page.text
    assert 'name="outcome" value="fail"' in page.text
    assert "5,00\xa0€" in page.text
    assert "3220" in page.text


def test_approving_in_the_page_succeeds_once(
    client: TestClient, processor: SandboxCardProcessor, updated: list[str]
) -> None:
    ref = challenge(processor)
    answered = client.post(f"/sandbox/psp/3ds/{ref}", data={"outcome": "approve"})
    assert answered.status_code == 200
    assert "Payment authenticated" in answered.text
    assert "<form" not in answered.text
    result = processor.retrieve(ref)
    assert (result.status, result.decline_code, result.action_url) == ("succeeded", None, None)
    assert updated == [ref]

    # A second answer changes nothing; envoi is told again (at least once, idempotent).
    client.post(f"/sandbox/psp/3ds/{ref}", data={"outcome": "fail"})
    assert processor.retrieve(ref).status == "succeeded"
    assert updated == [ref, ref]
    assert "Payment authenticated" in client.get(f"/sandbox/psp/3ds/{ref}").text
    # A retried charge sees the final state too.
    assert processor.charge("req-3ds", FIVE_EUROS, card("4000000000003220")).status == "succeeded"


def test_failing_by_json_declines_once(
    client: TestClient, processor: SandboxCardProcessor, updated: list[str]
) -> None:
    ref = challenge(processor)
    failed = client.post(f"/sandbox/psp/3ds/{ref}/complete", json={"outcome": "fail"})
    assert failed.status_code == 200
    assert failed.json() == {
        "processor_ref": ref,
        "status": "declined",
        "decline_code": "authentication_failed",
        "action_url": None,
        "last4": "3220",
        "amount_minor": 500,
        "currency": "EUR",
    }
    again = client.post(f"/sandbox/psp/3ds/{ref}/complete", json={"outcome": "approve"})
    assert (again.json()["status"], again.json()["decline_code"]) == (
        "declined",
        "authentication_failed",
    )
    assert processor.retrieve(ref).status == "declined"
    assert updated == [ref, ref]


def test_challenge_routes_refuse_what_is_not_a_challenge(
    client: TestClient, processor: SandboxCardProcessor, updated: list[str]
) -> None:
    plain = processor.charge("req-plain", FIVE_EUROS, card("4242424242424242")).processor_ref
    ref = challenge(processor)
    cases = [
        client.get(f"/sandbox/psp/3ds/{plain}"),
        client.post(f"/sandbox/psp/3ds/{plain}", data={"outcome": "fail"}),
        client.get("/sandbox/psp/3ds/ch_sbx_000000000000000000000000"),
        client.post("/sandbox/psp/3ds/%00/complete", json={"outcome": "approve"}),
    ]
    for response in cases:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    for bad in (
        client.post(f"/sandbox/psp/3ds/{ref}", data={"outcome": "maybe"}),
        client.post(f"/sandbox/psp/3ds/{ref}", data={}),
        client.post(f"/sandbox/psp/3ds/{ref}/complete", json={"outcome": "APPROVE"}),
    ):
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert processor.retrieve(plain).status == "succeeded"
    assert processor.retrieve(ref).status == "requires_action"
    assert updated == []
