"""A sandbox card processor that answers like Stripe's test mode, with no network call.

Test cards (Stripe's documented numbers, spaces or dashes allowed):
``4242 4242 4242 4242`` and ``5555 5555 5555 4444`` succeed; ``4000 0000 0000 0002``
is declined ``card_declined``; ``…9995`` ``insufficient_funds``; ``…0069``
``expired_card``; ``…0127`` ``incorrect_cvc``; ``…0119`` ``processing_error``;
``4000 0000 0000 3220`` and ``4000 0027 6000 3184`` need a 3-D Secure challenge.
Any other number is declined ``card_declined``, as Stripe's test mode refuses real
cards. A number failing the Luhn check is ``incorrect_number``, a past expiry month
``expired_card``, a CVC that is not 3–4 digits ``incorrect_cvc``.

Stripe's documented test PaymentMethods stand for the same cards (``pm_card_visa``,
``pm_card_visa_chargeDeclined``, ``pm_card_authenticationRequired``…), so a test or a
wallet page written for Stripe gets the same answers here.

Only the last four digits and the expiry are stored, never the number or the CVC.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Engine,
    Integer,
    Row,
    String,
    Table,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from envoi.adapters.db.metadata import metadata
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.money import Money
from envoi.services.ports import (
    BalanceEntry,
    CardDetails,
    CardToken,
    ChargeResult,
    ChargeStatus,
    Clock,
    ProcessorPayment,
    RefundResult,
)

REQUEST_ID_MAX = 200
AMOUNT_MAX_MINOR = 10**12  # far above any limit; keeps BIGINT and the processor sane
_REF = re.compile(r"ch_sbx_[0-9a-f]{24}")

sandbox_psp_charges = Table(
    "sandbox_psp_charges",
    metadata,
    Column("processor_ref", String(40), primary_key=True),
    Column("request_id", String(REQUEST_ID_MAX), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # What identifies "the same card" on a retry without keeping the number: a hash of
    # a card number is reversible by brute force, so only last4 and expiry are kept.
    Column("last4", String(4), nullable=False),
    Column("exp_month", Integer, nullable=False),
    Column("exp_year", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("decline_code", String(40), nullable=True),
    Column("three_ds", Boolean, nullable=False),  # the charge went through a challenge
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status IN ('succeeded', 'requires_action', 'declined')", name="status"),
)

sandbox_psp_refunds = Table(
    "sandbox_psp_refunds",
    metadata,
    Column("refund_ref", String(40), primary_key=True),
    Column("request_id", String(REQUEST_ID_MAX), nullable=False, unique=True),
    Column("processor_ref", String(40), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
)

_SUCCEED: tuple[ChargeStatus, None] = ("succeeded", None)
TEST_CARDS: dict[str, tuple[ChargeStatus, str | None]] = {
    "4242424242424242": _SUCCEED,  # Visa
    "4000056655665556": _SUCCEED,  # Visa debit
    "5555555555554444": _SUCCEED,  # Mastercard
    "2223003122003222": _SUCCEED,  # Mastercard (2-series)
    "5200828282828210": _SUCCEED,  # Mastercard debit
    "378282246310005": _SUCCEED,  # American Express
    "6011111111111117": _SUCCEED,  # Discover
    "4000000000000002": ("declined", "card_declined"),
    "4000000000009995": ("declined", "insufficient_funds"),
    "4000000000009987": ("declined", "lost_card"),
    "4000000000009979": ("declined", "stolen_card"),
    "4000000000000069": ("declined", "expired_card"),
    "4000000000000127": ("declined", "incorrect_cvc"),
    "4000000000000119": ("declined", "processing_error"),
    "4000000000003220": ("requires_action", None),
    "4000002760003184": ("requires_action", None),
}
# Stripe's documented test PaymentMethods and the card each stands for.
TEST_TOKENS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_visa_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_threeDSecure2Required": "4000000000003220",
}
Outcome = Literal["approve", "fail"]


def card_for_token(token: CardToken, now: datetime) -> CardDetails:
    """The test card a documented test token stands for; any other token is a declined card."""
    number = TEST_TOKENS.get(token.token, "4000000000000002")
    return CardDetails(number, 12, now.year + 5, "123")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def normalize_number(number: str) -> str:
    """Digits only; spaces and dashes are how people type card numbers."""
    return re.sub(r"[ \-]", "", number)


def decide(card: CardDetails, now: datetime) -> tuple[ChargeStatus, str | None]:
    """The processor's answer to this card, checked in Stripe's order."""
    digits = normalize_number(card.number)
    if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
        return "declined", "incorrect_number"
    if not luhn_valid(digits):
        return "declined", "incorrect_number"
    if not 1 <= card.exp_month <= 12:
        return "declined", "invalid_expiry_month"
    year = card.exp_year + 2000 if 0 <= card.exp_year < 100 else card.exp_year
    if (year, card.exp_month) < (now.year, now.month):  # valid through its expiry month
        return "declined", "expired_card"
    if not (card.cvc.isascii() and card.cvc.isdigit() and 3 <= len(card.cvc) <= 4):
        return "declined", "incorrect_cvc"
    return TEST_CARDS.get(digits, ("declined", "card_declined"))


@dataclass(frozen=True, slots=True)
class SandboxCharge:
    """A charge as the sandbox's own pages show it."""

    result: ChargeResult
    amount: Money
    three_ds: bool


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SandboxCardProcessor:
    """``CardProcessor`` over envoi's database; idempotent by ``request_id``."""

    name = "sandbox"

    def __init__(self, engine: Engine, base_url: str, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.base_url = base_url.rstrip("/")
        self._clock = clock or _UtcClock()

    def action_url(self, processor_ref: str) -> str:
        return f"{self.base_url}/sandbox/psp/3ds/{processor_ref}"

    def charge(self, request_id: str, amount: Money, card: CardDetails | CardToken) -> ChargeResult:
        if isinstance(card, CardToken):
            card = card_for_token(card, self._clock.now())
        if not request_id or len(request_id) > REQUEST_ID_MAX or not request_id.isprintable():
            raise EnvoiError(ErrorCode.VALIDATION_ERROR, field="request_id")
        if not 0 < amount.minor <= AMOUNT_MAX_MINOR:
            raise EnvoiError(ErrorCode.AMOUNT_OUT_OF_RANGE, minor=amount.minor)
        if not (0 <= card.exp_month <= 99 and 0 <= card.exp_year <= 9999):
            raise EnvoiError(ErrorCode.VALIDATION_ERROR, field="expiry")  # not even a date
        now = self._clock.now()
        status, decline_code = decide(card, now)
        digits = normalize_number(card.number)
        fields: dict[str, Any] = {
            "request_id": request_id,
            "amount_minor": amount.minor,
            "currency": amount.currency,
            "last4": digits[-4:] if digits.isascii() and digits.isdigit() else "",
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        }
        existing = self._by_request(request_id)
        if existing is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        sandbox_psp_charges.insert().values(
                            processor_ref=f"ch_sbx_{secrets.token_hex(12)}",
                            status=status,
                            decline_code=decline_code,
                            three_ds=status == "requires_action",
                            created_at=now,
                            updated_at=now,
                            **fields,
                        )
                    )
            except IntegrityError:
                pass  # a concurrent retry with the same request_id got there first
            existing = self._by_request(request_id)
            if existing is None:
                raise RuntimeError(f"charge {request_id!r} neither inserted nor found")
        if any(existing._mapping[k] != v for k, v in fields.items()):
            # Same key, different charge: answering with the first result would hide a bug.
            raise EnvoiError(ErrorCode.IDEMPOTENCY_CONFLICT, request_id=request_id)
        return self._result(existing)

    def retrieve(self, processor_ref: str) -> ChargeResult:
        return self.get(processor_ref).result

    def find(self, request_id: str) -> ChargeResult | None:
        row = self._by_request(request_id)
        return self._result(row) if row is not None else None

    def get(self, processor_ref: str) -> SandboxCharge:
        row = None
        if _REF.fullmatch(processor_ref):
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(sandbox_psp_charges).where(
                        sandbox_psp_charges.c.processor_ref == processor_ref
                    )
                ).first()
        if row is None:
            raise EnvoiError(ErrorCode.NOT_FOUND, processor_ref=processor_ref[:60])
        return SandboxCharge(self._result(row), Money(row.amount_minor, row.currency), row.three_ds)

    def complete_3ds(self, processor_ref: str, outcome: Outcome) -> tuple[SandboxCharge, bool]:
        """The cardholder's answer to the challenge; only the first answer counts.

        Returns the charge and whether this call changed it.
        """
        if self.get(processor_ref).three_ds is False:
            raise EnvoiError(ErrorCode.NOT_FOUND, processor_ref=processor_ref)
        status, code = (
            ("succeeded", None) if outcome == "approve" else ("declined", "authentication_failed")
        )
        table = sandbox_psp_charges
        with self.engine.begin() as conn:
            done = conn.execute(
                update(table)
                .where(table.c.processor_ref == processor_ref, table.c.status == "requires_action")
                .values(status=status, decline_code=code, updated_at=self._clock.now())
            )
        return self.get(processor_ref), done.rowcount == 1

    def refund(self, request_id: str, processor_ref: str, amount: Money) -> RefundResult:
        """Always accepted up to what is left of the charge; idempotent by ``request_id``."""
        charge = self.get(processor_ref)
        refunds = sandbox_psp_refunds
        with self.engine.begin() as conn:
            done = conn.execute(
                select(refunds.c.refund_ref, refunds.c.amount_minor).where(
                    refunds.c.request_id == request_id
                )
            ).first()
            if done is not None:
                if done.amount_minor != amount.minor:
                    raise EnvoiError(ErrorCode.IDEMPOTENCY_CONFLICT, request_id=request_id)
                return RefundResult(done.refund_ref, "succeeded")
            already = sum(
                conn.execute(
                    select(refunds.c.amount_minor).where(refunds.c.processor_ref == processor_ref)
                ).scalars()
            )
            if charge.result.status != "succeeded":
                raise EnvoiError(ErrorCode.REFUND_REFUSED, reason="charge_not_succeeded")
            if already + amount.minor > charge.amount.minor:
                raise EnvoiError(ErrorCode.REFUND_REFUSED, reason="amount_too_large")
            ref = f"re_sbx_{secrets.token_hex(12)}"
            conn.execute(
                refunds.insert().values(
                    refund_ref=ref,
                    request_id=request_id,
                    processor_ref=processor_ref,
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    created_at=self._clock.now(),
                )
            )
        return RefundResult(ref, "succeeded")

    def find_refund(self, request_id: str, processor_ref: str) -> RefundResult | None:
        refunds = sandbox_psp_refunds
        with self.engine.connect() as conn:
            ref = conn.execute(
                select(refunds.c.refund_ref).where(
                    refunds.c.request_id == request_id, refunds.c.processor_ref == processor_ref
                )
            ).scalar()
        return RefundResult(ref, "succeeded") if ref is not None else None

    def payments_since(self, since: datetime) -> list[ProcessorPayment]:
        charges, refunds = sandbox_psp_charges, sandbox_psp_refunds
        with self.engine.connect() as conn:
            rows = conn.execute(select(charges).where(charges.c.created_at >= since)).all()
            refunded: dict[str, int] = {}
            for ref, minor in conn.execute(select(refunds.c.processor_ref, refunds.c.amount_minor)):
                refunded[ref] = refunded.get(ref, 0) + minor
        return [
            ProcessorPayment(
                processor_ref=row.processor_ref,
                request_id=row.request_id,
                amount=Money(row.amount_minor, row.currency),
                status=row.status,
                amount_refunded=refunded.get(row.processor_ref, 0),
                charge_ref=row.processor_ref,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def balance_entries_since(self, since: datetime) -> list[BalanceEntry]:
        charges, refunds = sandbox_psp_charges, sandbox_psp_refunds
        with self.engine.connect() as conn:
            paid = conn.execute(
                select(charges).where(
                    charges.c.status == "succeeded", charges.c.updated_at >= since
                )
            ).all()
            back = conn.execute(select(refunds).where(refunds.c.created_at >= since)).all()
        entries = [
            BalanceEntry(
                f"txn_{r.processor_ref}",
                "charge",
                r.amount_minor,
                r.currency,
                r.processor_ref,
                r.updated_at,
            )
            for r in paid
        ]
        entries += [
            BalanceEntry(
                f"txn_{r.refund_ref}",
                "refund",
                -r.amount_minor,
                r.currency,
                r.refund_ref,
                r.created_at,
            )
            for r in back
        ]
        return entries

    def _by_request(self, request_id: str) -> Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(sandbox_psp_charges).where(sandbox_psp_charges.c.request_id == request_id)
            ).first()

    def _result(self, row: Row[Any]) -> ChargeResult:
        return ChargeResult(
            processor_ref=row.processor_ref,
            status=row.status,
            decline_code=row.decline_code,
            action_url=self.action_url(row.processor_ref)
            if row.status == "requires_action"
            else None,
            last4=row.last4,
        )
