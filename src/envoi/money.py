"""Money as integer minor units of one currency, and how people read and write it.

Never a float: amounts enter as ``int`` minor units or as decimal strings, and
arithmetic refuses to mix currencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import format_currency, get_currency_precision

__all__ = ["CurrencyMismatchError", "Money", "exponent", "split"]


class CurrencyMismatchError(ValueError):
    """Two amounts of different currencies met in one operation."""


@cache
def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (EUR: 2, JPY: 0)."""
    return int(get_currency_precision(currency))


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in minor units (cents for EUR) of an ISO 4217 currency."""

    minor: int
    currency: str = "EUR"

    def __post_init__(self) -> None:
        # bool is an int subclass and float sneaks in through JSON: refuse both.
        if type(self.minor) is not int:
            raise TypeError(f"minor units must be an int, not {type(self.minor).__name__}")
        if len(self.currency) != 3 or not self.currency.isascii() or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    @classmethod
    def zero(cls, currency: str = "EUR") -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str, currency: str = "EUR") -> Money:
        """``Money.from_decimal("5.50")`` -> 550 cents; refuses sub-minor precision."""
        try:
            amount = Decimal(value)
        except (InvalidOperation, TypeError) as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
        if not amount.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        scaled = amount.scaleb(exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value!r} has more decimals than {currency} allows")
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} and {other.currency} do not mix")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def format(self, locale: str = "fr") -> str:
        """Locale-aware text: ``5,00 €`` in French, ``€5.00`` in English."""
        return str(format_currency(self.to_decimal(), self.currency, locale=locale))

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"

    def percent(self, basis_points: int) -> Money:
        """``basis_points``/10 000 of this amount, rounded half up to the minor unit."""
        numerator = self.minor * basis_points
        quotient, remainder = divmod(abs(numerator), 10_000)
        if remainder * 2 >= 10_000:
            quotient += 1
        return Money(quotient if numerator >= 0 else -quotient, self.currency)


def split(total: Money, weights: Sequence[int]) -> list[Money]:
    """Split ``total`` by integer ``weights`` with the largest-remainder method.

    The parts always sum back to ``total`` exactly; ties go to the earlier part.
    """
    if not weights:
        raise ValueError("split needs at least one weight")
    if any(type(w) is not int or w < 0 for w in weights):
        raise ValueError("weights must be non-negative integers")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    sign = -1 if total.minor < 0 else 1
    magnitude = abs(total.minor)
    floors = [magnitude * w // weight_sum for w in weights]
    remainders = [magnitude * w % weight_sum for w in weights]
    leftover = magnitude - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    parts = [Money(sign * f, total.currency) for f in floors]
    assert sum(p.minor for p in parts) == total.minor  # the promise of this function
    return parts
