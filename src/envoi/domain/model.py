"""Entities and their states: plain dataclasses the database maps to and the services act on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from envoi.money import Money

Locale = Literal["fr", "en"]
LOCALES: tuple[Locale, ...] = ("fr", "en")


class Privacy(StrEnum):
    PUBLIC = "public"  # public reply with amount and payee
    DISCREET = "discreet"  # public reply without amount or payee details
    PRIVATE = "private"  # never a public reply: DMs and the app only

    @staticmethod
    def most_private(*modes: Privacy) -> Privacy:
        order = [Privacy.PUBLIC, Privacy.DISCREET, Privacy.PRIVATE]
        return max(modes, key=order.index)


class MemberKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class IntentKind(StrEnum):
    SEND = "send"
    DONATE = "donate"
    REQUEST = "request"
    POT = "pot"


class IntentState(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    SETTLED = "settled"
    CLAIMABLE = "claimable"  # paid into escrow for a network identity that is not a member yet
    # Confirmed for an all-or-nothing campaign: held until its deadline, then settled
    # (goal reached) or cancelled (missed, nobody charged).
    PLEDGED = "pledged"
    CLAIMED = "claimed"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class PayeeKind(StrEnum):
    MEMBER = "member"
    IDENTITY = "identity"  # someone on the network who is not a member (yet)
    POT = "pot"


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    email: str
    display_name: str
    locale: Locale
    privacy: Privacy
    kind: MemberKind
    verified: bool
    has_pin: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Organisation:
    """An organisation's legal identity. Registered by the operator, or by a member and
    then unverified until the operator checks it (``Member.verified`` is the badge;
    donations go to verified organisations only)."""

    member_id: str
    legal_name: str
    registry_id: str | None  # RNA, SIREN or SIRET, compact (``domain.legal_ids``)
    registry_kind: str | None = None  # "siren", "siret", "rna"
    address: str = ""
    purpose: str = ""  # what it collects for, shown on its public page
    tax_receipts: bool = False  # may issue tax receipts (articles 200 and 238 bis CGI)
    iban: str | None = None  # compact, checked by schwifty; where its payouts go
    bic: str | None = None
    created_by: str | None = None  # the member who registered it, None for the operator
    verified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    member_id: str
    network: str
    network_user_id: str
    handle: str
    display_name: str
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class Pot:
    id: str
    hashtag: str
    title: str
    owner_member_id: str
    goal: Money | None
    created_at: datetime
    closes_at: datetime | None = None
    closed_at: datetime | None = None
    # A crowdfunding campaign: pledges are held (pending transfers) until ``closes_at``;
    # goal reached -> all posted; missed -> all voided.
    all_or_nothing: bool = False
    outcome: str | None = None  # a campaign's: "succeeded" or "failed"

    def open_at(self, now: datetime) -> bool:
        return self.closed_at is None and (self.closes_at is None or now < self.closes_at)


@dataclass(frozen=True, slots=True)
class PotContribution:
    intent_id: str
    member_id: str
    name: str | None  # None: the contributor did not choose to show it
    amount: Money
    state: str  # the intent's: "settled", or "pledged" for a campaign until it ends
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Payee:
    kind: PayeeKind
    handle: str  # as shown to people ("bob", or the pot's hashtag)
    display_name: str
    member_id: str | None = None
    network: str | None = None
    network_user_id: str | None = None
    pot_id: str | None = None


class PayeeWarning(StrEnum):
    """Why the payer should look twice at who receives: money follows the network user id,
    and a handle can change hands (a renamed account, a newcomer taking the old name)."""

    # The handle now names another network user than the one this payer paid before, or
    # than a wallet's linked account last seen under it.
    HANDLE_REASSIGNED = "handle_reassigned"
    # The network account was opened recently (``ENVOI_NEW_ACCOUNT_DAYS``).
    NEW_ACCOUNT = "new_account"
    # The name the network shows mixes scripts or hides characters (``domain.names``).
    LOOKALIKE_NAME = "lookalike_name"


@dataclass(frozen=True, slots=True)
class PaymentIntent:
    id: str
    kind: IntentKind
    state: IntentState
    payer_member_id: str
    payee: Payee
    amount: Money
    fee: Money
    fee_charged_to: Literal["payer", "payee"]
    privacy: Privacy
    source_network: str | None
    source_post_id: str | None
    requester_member_id: str | None  # for #demander: who asked (and is paid)
    # The payer's network account in this exchange, as it was named then.
    payer_network_user_id: str | None
    payer_handle: str | None
    created_at: datetime
    expires_at: datetime
    settled_at: datetime | None = None
    claim_expires_at: datetime | None = None
    finished_at: datetime | None = None
    # What the payer must read before the PIN about who holds the handle now (see
    # ``PayeeWarning``); empty for a payee this payer already knows.
    payee_warnings: tuple[PayeeWarning, ...] = ()

    @property
    def hold_id(self) -> str:
        return f"{self.id}:hold"

    @property
    def fee_id(self) -> str:
        return f"{self.id}:fee"

    @property
    def total_debit(self) -> Money:
        """What leaves the payer's wallet."""
        return self.amount + self.fee if self.fee_charged_to == "payer" else self.amount


@dataclass(frozen=True, slots=True)
class Topup:
    id: str
    member_id: str
    amount: Money
    status: Literal["succeeded", "requires_action", "declined"]
    processor: str
    processor_ref: str
    last4: str
    decline_code: str | None
    action_url: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CardRefund:
    """Money of a top-up given back to its card."""

    id: str
    topup_id: str
    member_id: str
    amount: Money
    origin: Literal["operator", "processor"]
    status: Literal["pending", "succeeded", "failed"]
    processor_refund_ref: str | None
    created_at: datetime

    @property
    def hold_id(self) -> str:
        return f"{self.id}:hold"


@dataclass(frozen=True, slots=True)
class CardDispute:
    """A cardholder's bank disputing a top-up: ``frozen`` is held in the wallet,
    ``shortfall`` (what the wallet no longer held) is owed on the receivable account."""

    dispute_ref: str
    topup_id: str
    member_id: str
    amount: Money
    frozen: Money
    shortfall: Money
    status: Literal["open", "won", "lost"]

    @property
    def freeze_id(self) -> str:
        return f"{dispute_key(self.dispute_ref)}:wallet"

    @property
    def shortfall_id(self) -> str:
        return f"{dispute_key(self.dispute_ref)}:owed"


def dispute_key(dispute_ref: str) -> str:
    """A short fixed-length key for the processor's dispute id in ledger transfer ids
    (which have 40 characters, and the processor's ids no promised length)."""
    return "dsp_" + hashlib.sha256(dispute_ref.encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    member_id: str
    code: str  # a message key, rendered in the reader's language
    params: dict[str, str] = field(default_factory=dict)
    intent_id: str | None = None
    created_at: datetime | None = None
    read: bool = False


@dataclass(frozen=True, slots=True)
class LinkChallenge:
    """A member's claim to a network account, proven when that account sends the bot
    the code (kept only as a keyed hash). ``network_user_id`` is fixed at creation:
    the account that holds the handle then, whatever the handle becomes."""

    id: str
    member_id: str
    network: str
    network_user_id: str
    handle: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class PayoutState(StrEnum):
    PENDING = "pending"  # held on payout clearing, waiting for a batch
    BATCHED = "batched"  # in a SEPA file given to the bank
    EXECUTED = "executed"  # the bank paid it: the hold is posted
    REJECTED = "rejected"  # the bank refused it: the hold is voided, the money is back


@dataclass(frozen=True, slots=True)
class Payout:
    """Money leaving envoi for an IBAN: a hold from ``source_account`` to payout
    clearing until the bank has executed or rejected it."""

    id: str
    source_account: str
    requested_by: str
    pot_id: str | None
    amount: Money
    creditor_name: str
    iban: str
    bic: str | None
    remittance: str
    state: PayoutState
    batch_id: str | None
    reason: str | None
    created_at: datetime
    finished_at: datetime | None = None

    @property
    def hold_id(self) -> str:
        return f"{self.id}:hold"


@dataclass(frozen=True, slots=True)
class PayoutBatch:
    id: str
    created_at: datetime
    created_by: str
    count: int
    total: Money
    xml: str
    executed_at: datetime | None
