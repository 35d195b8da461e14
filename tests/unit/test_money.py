"""Money: integer minor units, no mixing, locale-aware text, splits that sum back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envoi.money import CurrencyMismatchError, Money, split


def test_refuses_floats_and_bools() -> None:
    with pytest.raises(TypeError):
        Money(5.0, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "EUR")


def test_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatchError):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatchError):
        assert Money(1, "EUR") < Money(2, "USD")


@pytest.mark.parametrize(
    ("minor", "locale", "text"),
    [
        (500, "fr", "5,00\xa0€"),
        (500, "en", "€5.00"),
        (123456, "fr", "1\u202f234,56\xa0€"),
        (123456, "en", "€1,234.56"),
    ],
)
def test_formats_for_people(minor: int, locale: str, text: str) -> None:
    assert Money(minor).format(locale) == text


def test_from_decimal() -> None:
    assert Money.from_decimal("5.5") == Money(550)
    assert Money.from_decimal(Decimal("1000.01")) == Money(100001)
    assert Money.from_decimal("100", "JPY") == Money(100, "JPY")
    for bad in ("5.555", "NaN", "Infinity", "abc"):
        with pytest.raises(ValueError, match=r"."):
            Money.from_decimal(bad)


def test_percent_rounds_half_up() -> None:
    assert Money(1000).percent(150) == Money(15)
    assert Money(50).percent(100) == Money(1)  # 0,5 cent -> 1 cent
    assert Money(49).percent(100) == Money(0)


def test_split_examples() -> None:
    assert split(Money(100), [1, 1, 1]) == [Money(34), Money(33), Money(33)]
    assert split(Money(-100), [1, 1, 1]) == [Money(-34), Money(-33), Money(-33)]
    assert split(Money(5), [0, 1]) == [Money(0), Money(5)]
    with pytest.raises(ValueError, match="zero"):
        split(Money(5), [0, 0])


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=20).filter(
        any
    ),
)
def test_split_always_sums_back(total: int, weights: list[int]) -> None:
    parts = split(Money(total), weights)
    assert sum(p.minor for p in parts) == total
    assert len(parts) == len(weights)
    # Each part is within one minor unit of its exact share.
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(total) * weight / sum(weights)
        assert abs(Decimal(part.minor) - exact) < 1
