"""Ledger vocabulary, modelled on TigerBeetle: accounts, two-phase transfers, results.

This file is the contract between the ledger and its callers (services, tests,
benchmarks). Amounts are positive integers of minor units; ids are supplied by
the caller so that retrying a creation is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag, StrEnum


class AccountFlags(IntFlag):
    NONE = 0
    # available = credits_posted - debits_posted - debits_pending must stay >= 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2
    # A system account touched by almost every payment (fees, clearing, escrow):
    # its balance is spread over several rows so it never becomes one hot row.
    # Incompatible with the two balance-check flags above.
    SHARDED = 4


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1  # this transfer succeeds or fails with the next one in the batch
    PENDING = 2  # a hold: debits_pending / credits_pending until posted or voided
    POST_PENDING_TRANSFER = 4  # posts the transfer named by pending_id
    VOID_PENDING_TRANSFER = 8  # voids the transfer named by pending_id


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    currency: str
    code: str  # what the account is: "wallet", "escrow", "fees", "card_clearing"...
    flags: AccountFlags = AccountFlags.NONE


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: str = "transfer"  # why it moved: "payment", "fee", "topup", "refund"...
    flags: TransferFlags = TransferFlags.NONE
    # For POST/VOID: the pending transfer. A post's amount may be 0 meaning "the
    # full pending amount"; any other amount must equal it (partial posts are refused).
    pending_id: str | None = None
    # For PENDING: seconds until the hold may be voided by ``expire_pending``. 0 = never.
    timeout_s: int = 0
    reference: str | None = None  # the caller's own link (intent id, top-up id)


@dataclass(frozen=True, slots=True)
class AccountBalance:
    account_id: str
    currency: str
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def available(self) -> int:
        """What the owner may spend: credits posted - debits posted - debits pending."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def posted(self) -> int:
        return self.credits_posted - self.debits_posted


class CreateAccountResult(StrEnum):
    OK = "ok"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    INVALID = "invalid"


class CreateTransferResult(StrEnum):
    OK = "ok"
    EXISTS = "exists"  # the same id with the same fields: the first outcome stands
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    LINKED_EVENT_FAILED = "linked_event_failed"  # another transfer of its chain failed
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"  # batch ends with LINKED set
    INVALID = "invalid"  # amount <= 0, same account both sides, bad flag combination
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    EXCEEDS_CREDITS = "exceeds_credits"  # would take a guarded account below zero
    EXCEEDS_DEBITS = "exceeds_debits"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    PARTIAL_POST_NOT_SUPPORTED = "partial_post_not_supported"
    # A post/void naming other accounts or currency than its pending transfer, or a void
    # with an amount other than 0 or the pending amount.
    PENDING_TRANSFER_HAS_DIFFERENT_FIELDS = "pending_transfer_has_different_fields"


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    id: str
    result: CreateTransferResult

    @property
    def ok(self) -> bool:
        return self.result in (CreateTransferResult.OK, CreateTransferResult.EXISTS)


@dataclass(frozen=True, slots=True)
class PostedTransfer:
    """A stored transfer as read back (history, checks)."""

    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: str
    flags: TransferFlags
    pending_id: str | None
    reference: str | None
    created_at: datetime
    state: str  # "posted", "pending", "voided", "expired" (for PENDING transfers)
