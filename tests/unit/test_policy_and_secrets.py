"""Fees, limits, PIN hashing and message rendering: pure decisions, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from envoi.config import FeeRule, Settings
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import pick_locale, render, render_error
from envoi.domain.model import Member, MemberKind, Privacy
from envoi.money import Money
from envoi.services.policy import check_limits, fee_for
from envoi.services.secrets import check_new_pin, hash_pin, is_obvious_pin, verify_pin

KEY = b"k" * 32


def member(*, verified: bool = True) -> Member:
    return Member(
        id="mem_1",
        email="a@example.org",
        display_name="A",
        locale="fr",
        privacy=Privacy.PUBLIC,
        kind=MemberKind.PERSON,
        verified=verified,
        has_pin=True,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_fee_schedule() -> None:
    rule = FeeRule(fixed_minor=25, basis_points=150, min_minor=50, max_minor=200)
    assert fee_for(rule, Money(10_00)) == Money(50)  # 25 + 15 = 40 -> min 50
    assert fee_for(rule, Money(100_00)) == Money(175)
    assert fee_for(rule, Money(1000_00)) == Money(200)  # capped
    assert fee_for(FeeRule(fixed_minor=500), Money(3_00)) == Money(3_00)  # never above the amount
    assert fee_for(FeeRule(), Money(3_00)) == Money(0)


def test_limits() -> None:
    settings = Settings()
    check_limits(
        settings, member(), Money(250_00), to_organisation=False, spent_day=0, spent_month=0
    )
    with pytest.raises(EnvoiError) as refused:
        check_limits(
            settings, member(), Money(250_01), to_organisation=False, spent_day=0, spent_month=0
        )
    assert refused.value.code is ErrorCode.LIMIT_PER_PAYMENT
    check_limits(
        settings, member(), Money(500_00), to_organisation=True, spent_day=0, spent_month=0
    )
    with pytest.raises(EnvoiError) as unverified:
        check_limits(
            settings,
            member(verified=False),
            Money(200_00),
            to_organisation=False,
            spent_day=0,
            spent_month=0,
        )
    assert unverified.value.params["limit_minor"] == settings.limit_unverified_per_payment_minor
    with pytest.raises(EnvoiError) as daily:
        check_limits(
            settings,
            member(),
            Money(1_00),
            to_organisation=False,
            spent_day=settings.limit_daily_minor,
            spent_month=0,
        )
    assert daily.value.code is ErrorCode.LIMIT_DAILY


def test_pin_hash_is_keyed_and_bound_to_the_member() -> None:
    stored = hash_pin(KEY, "mem_1", "1234")
    assert verify_pin(KEY, "mem_1", "1234", stored)
    assert not verify_pin(KEY, "mem_1", "1235", stored)
    assert not verify_pin(KEY, "mem_2", "1234", stored)  # another member, same PIN
    assert not verify_pin(b"other key", "mem_1", "1234", stored)
    assert "1234" not in stored
    with pytest.raises(EnvoiError):
        hash_pin(KEY, "mem_1", "12a4")


def test_messages_in_both_languages() -> None:
    error = EnvoiError(ErrorCode.LIMIT_PER_PAYMENT, limit_minor=250_00)
    assert render_error(error, "fr") == "Montant au-dessus du plafond par paiement (250,00\xa0€)."
    assert render_error(error, "en") == "Amount above the per-payment limit (€250.00)."
    # A missing parameter shows as a placeholder, never a crash.
    assert "{url}" in render(ErrorCode.INSUFFICIENT_FUNDS, "en")


@pytest.mark.parametrize(
    ("header", "locale"),
    [("en-GB,en;q=0.9", "en"), ("fr-FR", "fr"), ("de-DE", "fr"), (None, "fr"), ("de, en", "en")],
)
def test_pick_locale(header: str | None, locale: str) -> None:
    assert pick_locale(header) == locale


def test_settings_refuse_an_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        Settings(timezone="Mars/Olympus")
    assert Settings(timezone="America/Montreal").timezone == "America/Montreal"


@pytest.mark.parametrize(
    "pin",
    ["0000", "1111", "999999", "1234", "4321", "0123", "6789", "123456", "987654", "1212", "6969"],
)
def test_obvious_pins_are_refused_when_chosen(pin: str) -> None:
    assert is_obvious_pin(pin)
    with pytest.raises(EnvoiError) as refused:
        check_new_pin(pin)
    assert refused.value.code is ErrorCode.OBVIOUS_PIN


@pytest.mark.parametrize("pin", ["2580", "4821", "7395", "1357", "0112", "123459", "9371"])
def test_ordinary_pins_are_accepted(pin: str) -> None:
    assert not is_obvious_pin(pin)
    check_new_pin(pin)
