"""One root error with a stable code and parameters; text and HTTP status live at the edges."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # Command parsing (a reply explains; nothing moves).
    MULTIPLE_COMMANDS = "MULTIPLE_COMMANDS"
    MISSING_PAYEE = "MISSING_PAYEE"
    MULTIPLE_PAYEES = "MULTIPLE_PAYEES"
    PAYEE_IS_BOT = "PAYEE_IS_BOT"
    SELF_PAYMENT = "SELF_PAYMENT"
    MISSING_AMOUNT = "MISSING_AMOUNT"
    MULTIPLE_AMOUNTS = "MULTIPLE_AMOUNTS"
    AMBIGUOUS_AMOUNT = "AMBIGUOUS_AMOUNT"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    ZERO_AMOUNT = "ZERO_AMOUNT"
    SIGNED_AMOUNT = "SIGNED_AMOUNT"
    TOO_MANY_DECIMALS = "TOO_MANY_DECIMALS"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    HIDDEN_CHARACTERS = "HIDDEN_CHARACTERS"
    LOOKALIKE_CHARACTERS = "LOOKALIKE_CHARACTERS"
    MISSING_POT = "MISSING_POT"
    MULTIPLE_POTS = "MULTIPLE_POTS"
    # Not a command, yet it looks like one (bot, amount, payee, no #command): the syntax.
    MISSING_COMMAND = "MISSING_COMMAND"

    # Accounts and authentication.
    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"  # sign-in throttled: params retry_after_s
    TOO_MANY_SIGNUPS = "TOO_MANY_SIGNUPS"  # sign-up throttled: params retry_after_s, minutes
    EMAIL_TAKEN = "EMAIL_TAKEN"
    NOT_FOUND = "NOT_FOUND"
    INVALID_PIN_FORMAT = "INVALID_PIN_FORMAT"
    OBVIOUS_PIN = "OBVIOUS_PIN"  # 0000, 1234, 1212…: refused when a PIN is chosen
    PASSWORD_REQUIRED = "PASSWORD_REQUIRED"  # changing the PIN takes the password
    PIN_NOT_SET = "PIN_NOT_SET"
    WRONG_PIN = "WRONG_PIN"
    PIN_LOCKED = "PIN_LOCKED"

    # Identities and networks.
    UNKNOWN_NETWORK = "UNKNOWN_NETWORK"
    INVALID_NETWORK_TOKEN = "INVALID_NETWORK_TOKEN"
    NETWORK_USER_NOT_FOUND = "NETWORK_USER_NOT_FOUND"
    IDENTITY_ALREADY_LINKED = "IDENTITY_ALREADY_LINKED"
    HANDLE_TAKEN = "HANDLE_TAKEN"
    INVALID_HANDLE = "INVALID_HANDLE"
    INVALID_DISPLAY_NAME = "INVALID_DISPLAY_NAME"
    INVALID_HASHTAG = "INVALID_HASHTAG"
    HASHTAG_TAKEN = "HASHTAG_TAKEN"
    POST_NOT_FOUND = "POST_NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"

    # Payments.
    PAYER_NOT_MEMBER = "PAYER_NOT_MEMBER"
    REQUESTEE_NOT_MEMBER = "REQUESTEE_NOT_MEMBER"
    UNKNOWN_PAYEE = "UNKNOWN_PAYEE"
    INTENT_MISMATCH = "INTENT_MISMATCH"
    PAYEE_NOT_ORGANISATION = "PAYEE_NOT_ORGANISATION"
    UNKNOWN_POT = "UNKNOWN_POT"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    LIMIT_PER_PAYMENT = "LIMIT_PER_PAYMENT"
    LIMIT_DAILY = "LIMIT_DAILY"
    LIMIT_MONTHLY = "LIMIT_MONTHLY"
    RATE_LIMITED = "RATE_LIMITED"
    INTENT_NOT_FOUND = "INTENT_NOT_FOUND"
    INTENT_NOT_PENDING = "INTENT_NOT_PENDING"
    INTENT_EXPIRED = "INTENT_EXPIRED"

    # Card funding.
    CARD_DECLINED = "CARD_DECLINED"
    CARD_INVALID = "CARD_INVALID"
    CARD_EXPIRED = "CARD_EXPIRED"
    TOPUP_NOT_FOUND = "TOPUP_NOT_FOUND"
    TOPUP_UNAVAILABLE = "TOPUP_UNAVAILABLE"  # no card processor in this deployment
    TOPUP_LIMIT_DAILY = "TOPUP_LIMIT_DAILY"
    TOPUP_LIMIT_MONTHLY = "TOPUP_LIMIT_MONTHLY"
    AMOUNT_OUT_OF_RANGE = "AMOUNT_OUT_OF_RANGE"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"  # a request id reused for a different request

    # Operations.
    BUSY = "BUSY"  # the database kept aborting the transaction (contention): nothing was done

    # Card refunds, disputes and what a member owes after them.
    TOPUP_NOT_REFUNDABLE = "TOPUP_NOT_REFUNDABLE"  # not a succeeded card payment
    REFUND_EXCEEDS_PAYMENT = "REFUND_EXCEEDS_PAYMENT"  # more than is left of the card payment
    REFUND_EXCEEDS_BALANCE = "REFUND_EXCEEDS_BALANCE"  # more than the member still holds
    REFUND_REFUSED = "REFUND_REFUSED"  # the processor said no
    REFUND_PENDING = "REFUND_PENDING"  # the processor did not answer: held until resumed
    RECEIVABLE_OUTSTANDING = "RECEIVABLE_OUTSTANDING"  # owes envoi after a dispute: no payout

    # Collecting money: organisations, donations and their tax receipts.
    INVALID_REGISTRY_ID = "INVALID_REGISTRY_ID"  # SIREN/SIRET check digit or RNA form wrong
    INVALID_IBAN = "INVALID_IBAN"
    ORGANISATION_NOT_VERIFIED = "ORGANISATION_NOT_VERIFIED"  # no donations until verified
    NOT_AN_ORGANISATION = "NOT_AN_ORGANISATION"
    RECEIPT_NOT_FOUND = "RECEIPT_NOT_FOUND"
    RECEIPT_ALREADY_CANCELLED = "RECEIPT_ALREADY_CANCELLED"
    NOT_A_DONATION = "NOT_A_DONATION"
    # Pots, campaigns and payouts.
    POT_CLOSED = "POT_CLOSED"  # closed by its owner or past its closing date
    POT_EMPTY = "POT_EMPTY"  # nothing to pay out
    INVALID_CLOSING_DATE = "INVALID_CLOSING_DATE"
    CAMPAIGN_RUNNING = "CAMPAIGN_RUNNING"  # an all-or-nothing pot pays out once it succeeded
    NOTHING_TO_BATCH = "NOTHING_TO_BATCH"
    BATCH_NOT_FOUND = "BATCH_NOT_FOUND"
    BATCH_ALREADY_EXECUTED = "BATCH_ALREADY_EXECUTED"
    INVALID_STATUS_REPORT = "INVALID_STATUS_REPORT"  # an uploaded pain.002 we cannot read


# In a Python ``str`` a surrogate code point is always a lone one: a valid pair from
# JSON is decoded into the one character it stands for.
_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD, so it always encodes to UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


class EnvoiError(Exception):
    """Any refusal envoi explains to a person: a stable code plus its parameters."""

    def __init__(self, code: ErrorCode, **params: Any) -> None:
        super().__init__(code.value)
        self.code = code
        # A parameter may be whatever a client sent, and it is echoed in answers, pages
        # and logs: keep only text that can be written out (a lone UTF-16 surrogate from
        # a JSON "\\ud800" cannot be encoded, and failed the whole answer with a 500).
        self.params = {k: encodable(v) if isinstance(v, str) else v for k, v in params.items()}

    def __repr__(self) -> str:
        return f"EnvoiError({self.code.value}, {self.params!r})"
