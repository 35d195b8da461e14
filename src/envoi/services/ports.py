"""Protocols for everything outside the domain: networks, card processor, ledger store, clock.

Adapters implement these; ``envoi.bootstrap`` wires them. Nothing here imports an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from envoi.ledger.model import (
    Account,
    AccountBalance,
    CreateAccountResult,
    PostedTransfer,
    Transfer,
    TransferOutcome,
)
from envoi.money import Money


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


# --- Ledger -----------------------------------------------------------------


class LedgerStore(Protocol):
    """The ledger inside the caller's database transaction."""

    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]: ...

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[TransferOutcome]: ...

    def balance(self, account_id: str) -> AccountBalance: ...

    def transfers_of(self, account_id: str, *, limit: int = 100) -> list[PostedTransfer]: ...

    def expire_pending(self, now: datetime, *, limit: int = 1000) -> list[str]:
        """Void pending transfers whose timeout has passed; returns their ids."""
        ...


# --- Social networks ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkUser:
    network: str
    user_id: str  # immutable id on the network: the only key money follows
    handle: str  # changeable screen name, without "@"
    display_name: str
    # When the account was opened on the network, where the network says: a payment to
    # an account a few days old is flagged to the payer (a handle may have been taken).
    created_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class InboundPost:
    """A post or direct message that mentions the bot, as a network adapter delivers it."""

    network: str
    post_id: str
    author: NetworkUser
    text: str
    direct: bool = False
    created_at: datetime | None = None
    in_reply_to: str | None = None
    # Users the network itself resolved for mentions in ``text`` (handle -> user),
    # so a payee is matched by immutable id even if the handle changes later.
    mentions: tuple[NetworkUser, ...] = field(default_factory=tuple)


class InboundPort(Protocol):
    """Where every network adapter delivers what it receives. Idempotent per (network, post_id)."""

    def receive_post(self, post: InboundPost) -> None: ...

    def receive_deletion(self, network: str, post_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class NetworkEvent:
    """One thing a network reader saw: a post for the bot, or the deletion of one."""

    post: InboundPost | None = None
    deleted_post_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """What one read returned, and the cursor to store once every event of it is stored."""

    events: tuple[NetworkEvent, ...]
    cursor: str | None


class NetworkReader(Protocol):
    """The ingest half of a network adapter (the write half is ``NetworkGateway``).

    ``read`` starts after ``cursor`` (None: the adapter's own start, say "from now"),
    may wait for news up to ``wait_s`` and raises on a network outage. It leaves out
    what the bot itself wrote and edits of earlier posts. The caller stores the events,
    then the returned cursor: a crash in between reads the same events again, and
    storing them is idempotent, so nothing is lost and nothing is paid twice.
    """

    name: str

    def read(self, cursor: str | None, wait_s: float) -> ReadBatch: ...


class CursorStore(Protocol):
    """Where each network's ingest cursor is kept (the database: it survives restarts)."""

    def load(self, network: str) -> str | None: ...

    def save(self, network: str, cursor: str) -> None: ...


class NetworkBusy(Exception):  # noqa: N818 - a state of the network, not a bug
    """The network takes this call later, not never: rate limited (HTTP 429), or the
    deployment's spend budget for the network is used up. Nothing was sent; a message
    waits until ``retry_at`` without counting as a failed attempt."""

    def __init__(self, reason: str, retry_at: datetime) -> None:
        super().__init__(f"{reason}; retry at {retry_at.isoformat()}")
        self.reason = reason
        self.retry_at = retry_at


class NetworkGateway(Protocol):
    """What envoi does on a network: answer, write privately, look people up, prove ownership.

    ``bot_handle`` is the bot's own account as the network writes it (``SmoneyFR``,
    ``envoi:example.org``, ``envoi.bsky.social``) and ``grammar`` names how the
    network writes people (``envoi.commands.handles.GRAMMARS``).
    """

    name: str
    grammar: str

    @property
    def bot_handle(self) -> str:
        """Read-only: an adapter may ask its network once, on first use (Mastodon)."""
        ...

    def reply(self, in_reply_to_post_id: str, text: str, *, idempotency_key: str) -> str:
        """Publish a public reply; returns the new post id.

        ``idempotency_key`` names this one message (envoi derives it from its outbox row):
        a worker killed after sending but before recording the send retries with the same
        key, and the network must answer with the first post's id instead of posting again.
        Pass it wherever the network takes one (Matrix: the transaction id of ``PUT
        /send/{txnId}``); an adapter for a network without one says in its docstring what
        it does instead.
        """
        ...

    def direct_message(self, to_user_id: str, text: str, *, idempotency_key: str) -> str:
        """Send a private message; returns its id. ``idempotency_key`` as for ``reply``."""
        ...

    def lookup_user(self, handle: str) -> NetworkUser | None:
        """Resolve a handle to the user who holds it now, or None."""
        ...

    def verify_link(self, token: str) -> NetworkUser:
        """Exchange a proof of ownership (an OAuth code, a sandbox token) for the user.

        Raises ``EnvoiError(INVALID_NETWORK_TOKEN)`` when the proof does not hold.
        """
        ...


@runtime_checkable
class OAuthLinking(Protocol):
    """A network whose accounts are linked by OAuth 2.0 Authorization Code + PKCE (X).

    The code is exchanged for a user access token, which ``verify_link`` then turns into
    the account it belongs to.
    """

    def authorization_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        """Where the member's browser goes to say yes (``code_challenge``: S256)."""
        ...

    def exchange_code(self, code: str, *, code_verifier: str, redirect_uri: str) -> str:
        """The user access token for an authorization ``code``; raises
        ``EnvoiError(INVALID_NETWORK_TOKEN)`` when the network refuses it."""
        ...


@dataclass(frozen=True, slots=True)
class OAuthState:
    """One authorization in flight: who asked, for which network, and the PKCE verifier."""

    member_id: str
    network: str
    code_verifier: str
    redirect_uri: str
    created_at: datetime
    expires_at: datetime


class OAuthStateStore(Protocol):
    """Authorizations in flight, by a keyed hash of their ``state`` (each used once)."""

    def add(self, state_hash: str, state: OAuthState) -> None: ...

    def take(self, state_hash: str, now: datetime) -> OAuthState | None:
        """The state, marked used; None if unknown, used already or expired."""
        ...


# --- Card processor -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardDetails:
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:  # never print a card number
        return f"CardDetails(****{self.number[-4:]}, {self.exp_month:02d}/{self.exp_year})"


@dataclass(frozen=True, slots=True)
class CardToken:
    """A card the processor already holds: a PaymentMethod id made by Stripe.js in the
    cardholder's browser, or a documented test token (``pm_card_visa``). Its number never
    reached envoi's server."""

    token: str


ChargeStatus = Literal["succeeded", "requires_action", "declined"]


@dataclass(frozen=True, slots=True)
class ChargeResult:
    processor_ref: str  # the processor's id for this charge
    status: ChargeStatus
    decline_code: str | None = None  # "card_declined", "expired_card", "incorrect_number"...
    action_url: str | None = None  # where the cardholder completes 3-D Secure
    last4: str = ""
    request_id: str | None = None  # ours, as the processor keeps it (Stripe: metadata)


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_ref: str
    status: Literal["succeeded", "pending", "failed"]


@dataclass(frozen=True, slots=True)
class ProcessorPayment:
    """A payment as the processor lists it, for reconciliation."""

    processor_ref: str
    request_id: str | None  # our top-up id, when the payment is ours
    amount: Money
    status: str  # the processor's own word ("succeeded", "requires_payment_method"...)
    amount_refunded: int
    charge_ref: str | None  # what its balance entries name as their source
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BalanceEntry:
    """A movement of the merchant's balance at the processor (Stripe: balance transaction)."""

    entry_id: str
    kind: str  # "charge", "refund", "adjustment" (disputes)...
    amount_minor: int  # signed: a refund is negative
    currency: str
    source_ref: str  # the charge, refund or dispute it comes from
    created_at: datetime


@runtime_checkable
class InPageAuthentication(Protocol):
    """A processor whose 3-D Secure can run in the wallet page (Stripe.js)."""

    publishable_key: str

    def client_secret(self, processor_ref: str) -> str: ...


class CardProcessor(Protocol):
    name: str

    def charge(self, request_id: str, amount: Money, card: CardDetails | CardToken) -> ChargeResult:
        """Charge a card. Idempotent by ``request_id``: a retry returns the first result."""
        ...

    def retrieve(self, processor_ref: str) -> ChargeResult:
        """The charge's current state (after a 3-D Secure challenge, say)."""
        ...

    def find(self, request_id: str) -> ChargeResult | None:
        """The charge made for ``request_id``, if any (Stripe: search by idempotency
        metadata) — how a top-up whose answer was lost is reconciled."""
        ...

    def refund(self, request_id: str, processor_ref: str, amount: Money) -> RefundResult:
        """Give ``amount`` of a succeeded charge back to the card; idempotent by
        ``request_id``. A processor that does not answer raises ``REFUND_PENDING``: the
        refund may or may not have been made (``find_refund`` tells later)."""
        ...

    def find_refund(self, request_id: str, processor_ref: str) -> RefundResult | None:
        """The refund made for ``request_id`` on the charge ``processor_ref``, if the
        processor has one (Stripe: its refunds listed by PaymentIntent, matched by
        metadata) — how a refund whose answer was lost is finished."""
        ...

    def payments_since(self, since: datetime) -> list[ProcessorPayment]: ...

    def balance_entries_since(self, since: datetime) -> list[BalanceEntry]: ...


# --- What the processor tells us (webhooks) -------------------------------------------

ProcessorEventKind = Literal[
    "payment_updated", "refunded", "refund_failed", "dispute_opened", "dispute_closed", "ignored"
]


@dataclass(frozen=True, slots=True)
class ProcessorEvent:
    """One event from the processor, signature already checked by its adapter."""

    processor: str
    event_id: str  # the processor's id: each is applied once
    kind: ProcessorEventKind
    payment_ref: str = ""  # the payment (Stripe: PaymentIntent) it is about
    request_id: str | None = None  # our top-up id, when the event carries it
    dispute_ref: str | None = None
    dispute_status: str | None = None  # at close: "won", "lost", "warning_closed"
    amount: Money | None = None  # disputed amount, or the charge's total refunded so far
    refund_ref: str | None = None  # the processor's id of a refund that failed
    refund_id: str | None = None  # ours for that refund, when the processor keeps it
