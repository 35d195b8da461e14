"""What the services need from storage: repositories inside one transaction.

``with uow_factory() as uow: …; uow.commit()`` — leaving the block without
``commit()`` rolls everything back, ledger legs and outbox rows included.

Lock order
----------
Every transaction that writes takes its row locks in this one order (PostgreSQL,
READ COMMITTED; on SQLite ``BEGIN IMMEDIATE`` takes one database-wide write lock
first, so there is nothing to order). A transaction may skip a level, never go
back to an earlier level while it holds a later one — except with ``SKIP LOCKED``,
which never waits and so cannot close a cycle:

1. what arrived or who acts on a network: the ``inbound_posts`` row (a post or a
   deletion, stored once), ``identities`` rows (a link, a handle refresh);
2. ``members`` rows: ``MemberRepo.lock`` — ``FOR NO KEY UPDATE``, never ``FOR
   UPDATE``, so the ``FOR KEY SHARE`` lock a foreign key check takes (inserting a
   notification, an outbox row, an intent for that member) never waits on it;
3. the ``claim_locks`` row of the payee's network account:
   ``IdentityRepo.lock_account`` — where money for a not-yet-member goes (settle
   into escrow, or straight to the member who just linked; claim from escrow) is
   decided under it;
4. ``payment_intents`` rows: compare-and-set ``UPDATE``s (``IntentRepo.transition``),
   jobs pick theirs with ``FOR UPDATE SKIP LOCKED``; then ``topups`` rows; then
   ``pots`` rows (closed, a campaign's outcome), ``payout_batches`` and ``payouts``
   rows (a batch takes its payouts with ``SKIP LOCKED``);
5. ledger balance rows: each ``create_transfers`` call locks all of its rows in one
   statement ordered by account id, and a transaction makes one such call;
   5b. the ``receipt_counters`` row of (organisation, year): ``DonationRepo.
   next_receipt_number``, after the donation's ledger legs (which already queue the
   donations to one organisation on its wallet row), right before the receipt insert
   (or before the ``tax_receipts`` row a correction cancels);
6. inserts only: notifications, outbox rows (their foreign keys take ``FOR KEY
   SHARE`` on ``members``, compatible with level 2).
7. last, inside ``commit``: the ``audit_heads`` row of the chain the transaction's
   audit events go to (``adapters/db/audit.py``), held only for those inserts and
   the commit itself. (Sign-in throttle rows, ``auth_throttle``, are locked by
   sign-in transactions that take nothing else but this level.)

Should PostgreSQL still abort a transaction for a deadlock (``40P01``) or a
serialization failure (``40001``) — a path outside this order, a lock an index
takes — the unit of work raises ``TransientConflict`` and ``retry_conflicts`` runs
the whole transaction again (bounded, with jittered backoff, one log line per
retry). When the attempts run out the caller gets ``EnvoiError(BUSY)`` (HTTP 503
with ``Retry-After``), never a 500: nothing of the transaction was kept.
"""

from __future__ import annotations

import functools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, ParamSpec, Protocol, Self, TypeVar

import structlog

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import (
    CardDispute,
    CardRefund,
    Identity,
    IntentState,
    LinkChallenge,
    Member,
    MemberKind,
    Organisation,
    PaymentIntent,
    Payout,
    PayoutBatch,
    PayoutState,
    Pot,
    PotContribution,
    Privacy,
    Topup,
)
from envoi.domain.receipts import DonationSeen, FeeLine, TaxReceipt
from envoi.metrics import count_retry
from envoi.services.ports import InboundPost, LedgerStore


class MemberRepo(Protocol):
    def add(
        self,
        *,
        member_id: str,
        email: str,
        password_hash: str,
        display_name: str,
        locale: str,
        kind: MemberKind,
        verified: bool,
        privacy: Privacy,
        now: datetime,
    ) -> bool:
        """False when the e-mail is taken."""
        ...

    def get(self, member_id: str) -> Member | None: ...

    def set_organisation(self, org: Organisation) -> None: ...

    def organisation(self, member_id: str) -> Organisation | None: ...

    def credentials(self, email: str) -> tuple[str, str] | None:
        """(member id, password hash) for an e-mail."""
        ...

    def lock(self, member_id: str) -> None:
        """Serialise this member's spending decisions until the transaction ends."""
        ...

    def pin_state(self, member_id: str) -> tuple[str | None, int, datetime | None]:
        """(pin hash, consecutive failures, locked until)."""
        ...

    def set_pin(self, member_id: str, pin_hash: str) -> None: ...

    def record_pin_failure(self, member_id: str) -> int:
        """Count one wrong PIN atomically; returns the consecutive failures so far."""
        ...

    def lock_pin(self, member_id: str, until: datetime) -> None: ...

    def reset_pin_failures(self, member_id: str) -> None: ...

    def update_profile(
        self,
        member_id: str,
        *,
        privacy: Privacy | None,
        locale: str | None,
        display_name: str | None,
    ) -> None: ...

    def add_token(
        self, token_hash: str, member_id: str, now: datetime, expires: datetime
    ) -> None: ...

    def member_for_token(self, token_hash: str, now: datetime) -> Member | None: ...

    def revoke_token(self, token_hash: str) -> None: ...

    def password_hash(self, member_id: str) -> str | None: ...

    def by_email(self, email: str) -> Member | None: ...


class IdentityRepo(Protocol):
    def add(self, identity: Identity) -> bool:
        """False when this network account is already linked."""
        ...

    def member_for(self, network: str, network_user_id: str) -> Member | None: ...

    def of_member(self, member_id: str) -> list[Identity]: ...

    def first_of_member(self, member_id: str, network: str) -> Identity | None: ...

    def others_with_handle(self, network: str, handle: str, network_user_id: str) -> bool:
        """A linked account other than this user was last seen under ``handle``."""
        ...

    def update_handle(self, network: str, network_user_id: str, handle: str, name: str) -> None: ...

    def lock_account(self, network: str, network_user_id: str) -> None:
        """Hold this network account's claim lock until the transaction ends (lock order,
        level 3): deciding where money for it goes (escrow, or the member who linked it)
        and linking it are serialised, and each then reads what the other committed."""
        ...


class ChallengeRepo(Protocol):
    def add(self, challenge: LinkChallenge, code_hash: str) -> None: ...

    def by_code(self, code_hash: str) -> LinkChallenge | None: ...

    def use(self, challenge_id: str, now: datetime) -> bool:
        """Mark it used; False if it already was (a code links once)."""
        ...


class OrganisationRepo(Protocol):
    def set_verified(self, member_id: str, now: datetime) -> None:
        """The badge (``members.verified``) and when the operator gave it."""
        ...

    def update(self, org: Organisation) -> None: ...

    def listing(self, *, verified: bool | None = None) -> list[tuple[Member, Organisation]]: ...


class DonationRepo(Protocol):
    """Donors' choices and details, tax receipts and their counters."""

    def choose(
        self, intent_id: str, organisation_id: str, message: str | None, anonymous: bool
    ) -> None: ...

    def choice(self, intent_id: str) -> tuple[str | None, bool] | None:
        """(message, anonymous) the donor chose for this donation, if they did."""
        ...

    def recent_public(self, organisation_id: str, *, limit: int) -> list[DonationSeen]: ...

    def set_donor_details(self, member_id: str, full_name: str, address: str) -> None: ...

    def donor_details(self, member_id: str) -> tuple[str, str] | None: ...

    def next_receipt_number(self, organisation_id: str, year: int) -> int:
        """Count one more receipt for the organisation's year; the counter row stays
        locked until the transaction ends (lock order, level 5b)."""
        ...

    def add_receipt(self, receipt: TaxReceipt) -> None: ...

    def receipt(self, receipt_id: str) -> TaxReceipt | None: ...

    def receipts_of_donor(self, member_id: str, year: int | None = None) -> list[TaxReceipt]: ...

    def receipts_of_organisation(self, organisation_id: str, year: int) -> list[TaxReceipt]: ...

    def cancel_receipt(self, receipt_id: str, now: datetime) -> bool: ...


class ReportRepo(Protocol):
    def fees(self, start: datetime, end: datetime, currency: str) -> list[FeeLine]:
        """Settled donations and pot payments in [start, end), per payee and kind."""
        ...


class PayoutRepo(Protocol):
    def add(self, payout: Payout) -> None: ...

    def get(self, payout_id: str) -> Payout | None: ...

    def of_batch(self, batch_id: str) -> list[Payout]: ...

    def of_member(self, member_id: str) -> list[Payout]: ...

    def lock_pending(self, *, limit: int) -> list[Payout]:
        """Pending payouts, their rows locked (SKIP LOCKED)."""
        ...

    def assign(self, batch_id: str, payout_ids: list[str]) -> None:
        """Pending payouts into this (stored) batch."""
        ...

    def transition(
        self,
        payout_id: str,
        from_state: PayoutState,
        to_state: PayoutState,
        *,
        now: datetime,
        reason: str | None = None,
    ) -> bool: ...

    def add_batch(self, batch: PayoutBatch) -> None: ...

    def batch(self, batch_id: str) -> PayoutBatch | None: ...

    def batches(self, limit: int = 50) -> list[PayoutBatch]: ...

    def mark_executed(self, batch_id: str, now: datetime) -> bool: ...


class PotRepo(Protocol):
    def add(self, pot: Pot, currency: str) -> bool: ...

    def by_hashtag(self, hashtag: str) -> Pot | None: ...

    def get(self, pot_id: str) -> Pot | None: ...

    def close(self, pot_id: str, now: datetime) -> bool:
        """No more contributions; False if it already was closed."""
        ...

    def set_outcome(self, pot_id: str, outcome: str, now: datetime) -> bool:
        """A campaign's end, once (compare-and-set)."""
        ...

    def campaigns_due(self, now: datetime, *, limit: int) -> list[Pot]: ...

    def choose(self, intent_id: str, pot_id: str, show_name: bool) -> None: ...

    def contributions(self, pot_id: str, states: tuple[str, ...]) -> list[PotContribution]: ...


class IntentRepo(Protocol):
    def add(self, intent: PaymentIntent) -> None: ...

    def get(self, intent_id: str) -> PaymentIntent | None: ...

    def by_source(self, network: str, post_id: str) -> PaymentIntent | None: ...

    def payee_history(
        self, payer_member_id: str, network: str, handle: str, network_user_id: str
    ) -> tuple[bool, bool]:
        """(paid another user under this handle before, paid this user before)."""
        ...

    def transition(
        self, intent_id: str, from_state: IntentState, to_state: IntentState, **fields: Any
    ) -> bool:
        """Compare-and-set the state: False if another actor moved it first (no lost update)."""
        ...

    def for_member(
        self, member_id: str, *, state: IntentState | None = None, limit: int = 100
    ) -> list[PaymentIntent]:
        """Intents the member pays, or is paid by, or requested; newest first."""
        ...

    def to_confirm(self, member_id: str) -> list[PaymentIntent]: ...

    def claimable_for(self, network: str, network_user_id: str) -> list[PaymentIntent]: ...

    def claimable_by_members(self, *, limit: int) -> list[tuple[str, str]]:
        """(network, network user id) of accounts that hold money in escrow although a
        member has linked them: the claim job's work, normally none."""
        ...

    def due(self, state: IntentState, now: datetime, *, limit: int) -> list[PaymentIntent]:
        """Intents in ``state`` whose window has closed, claimed with SKIP LOCKED where possible."""
        ...

    def outgoing_total(self, payer_member_id: str, since: datetime) -> int:
        """Minor units committed by this payer since ``since`` (pending or done)."""
        ...


class InboundPostRepo(Protocol):
    def add_once(self, post: InboundPost, now: datetime) -> bool:
        """Store a post; False if this (network, post id) was already stored."""
        ...

    def set_outcome(
        self, network: str, post_id: str, outcome: str, intent_id: str | None
    ) -> None: ...

    def mark_deleted(self, network: str, post_id: str, now: datetime) -> bool: ...

    def add_tombstone(self, network: str, post_id: str, now: datetime) -> None:
        """Remember a deletion whose post has not arrived (yet): it will be a duplicate."""
        ...

    def count_recent(self, network: str, author_user_id: str, since: datetime) -> int: ...


class TopupRepo(Protocol):
    def add_pending(self, topup: Topup, request_key: str) -> bool: ...

    def by_key(self, request_key: str) -> Topup | None: ...

    def by_ref(self, processor_ref: str) -> Topup | None: ...

    def get(self, topup_id: str) -> Topup | None: ...

    def settle(
        self,
        topup_id: str,
        *,
        from_status: str,
        status: str,
        processor_ref: str,
        last4: str,
        decline_code: str | None,
        action_url: str | None,
        now: datetime,
    ) -> bool: ...

    def of_member(self, member_id: str, limit: int = 100) -> list[Topup]: ...

    def charged_since(self, member_id: str, since: datetime) -> int:
        """Minor units of this member's top-ups since then, charged or being charged."""
        ...

    def pending_before(self, when: datetime, limit: int) -> list[Topup]:
        """Top-ups written but never answered (a crash between charge and credit)."""
        ...


class NoticeRepo(Protocol):
    def notify(
        self,
        member_id: str,
        code: str,
        params: dict[str, Any],
        *,
        intent_id: str | None,
        now: datetime,
    ) -> None: ...

    def enqueue(
        self, *, kind: str, network: str, target: str, text: str, dedupe_key: str, now: datetime
    ) -> None:
        """Queue a network reply or DM; a second row with the same dedupe key is dropped."""
        ...

    def notifications(self, member_id: str, limit: int = 50) -> list[dict[str, Any]]: ...

    def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[dict[str, Any]]: ...

    def mark_delivered(self, outbox_id: str, remote_id: str, now: datetime) -> None: ...

    def mark_failed(
        self, outbox_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None: ...

    def defer(self, outbox_id: str, reason: str, retry_at: datetime) -> None:
        """Not sent, not failed (the network said "later"): the claim's attempt is given back."""
        ...


class CardRepo(Protocol):
    """Processor events applied once, card refunds, disputes."""

    def add_event_once(self, processor: str, event_id: str, kind: str, now: datetime) -> bool:
        """False when this event was already applied."""
        ...

    def seen(self, processor: str, event_id: str) -> bool: ...

    def add_refund(self, refund: CardRefund) -> None: ...

    def finish_refund(
        self, refund_id: str, *, status: str, processor_refund_ref: str | None, now: datetime
    ) -> bool: ...

    def reverse_refund(
        self, refund_id: str, processor_refund_ref: str | None, now: datetime
    ) -> bool: ...

    def pending_refunds(self, before: datetime, limit: int) -> list[CardRefund]: ...

    def refund_by_ref(self, processor_refund_ref: str) -> CardRefund | None: ...

    def unnamed_processor_refund(self, topup_id: str, amount_minor: int) -> CardRefund | None: ...

    def refund(self, refund_id: str) -> CardRefund | None: ...

    def refunds_of(self, topup_id: str) -> list[CardRefund]: ...

    def refunds_since(self, since: datetime) -> list[CardRefund]: ...

    def refunded_total(self, topup_id: str) -> int: ...

    def add_dispute(self, dispute: CardDispute, now: datetime) -> bool: ...

    def dispute(self, dispute_ref: str) -> CardDispute | None: ...

    def disputes_of(self, topup_id: str) -> list[CardDispute]: ...

    def close_dispute(self, dispute_ref: str, status: str, now: datetime) -> bool: ...

    def topups_since(self, since: datetime, processor: str) -> list[Topup]: ...

    def transfer_amount(self, transfer_id: str) -> int | None: ...


@dataclass(frozen=True)
class ThrottleState:
    count: int
    window_start: datetime
    blocked_until: datetime | None


class ThrottleRepo(Protocol):
    def lock(self, key: str, scope: str, now: datetime) -> ThrottleState:
        """The key's row, created if new, locked until the transaction ends."""
        ...

    def count(self, key: str, now: datetime, window: timedelta) -> ThrottleState:
        """Count one more within the window (a stale window restarts at 1)."""
        ...

    def block(self, key: str, until: datetime) -> None: ...

    def clear(self, key: str) -> None: ...


class AuditRecorder(Protocol):
    def record(self, kind: str, member_id: str | None = None, /, **data: Any) -> None:
        """Append an event to the audit trail when this transaction commits (never a PIN,
        a password or a token)."""
        ...


class UnitOfWork(Protocol):
    # Read-only members: an implementation may hold more specific repository types.
    @property
    def ledger(self) -> LedgerStore: ...
    @property
    def members(self) -> MemberRepo: ...
    @property
    def identities(self) -> IdentityRepo: ...
    @property
    def pots(self) -> PotRepo: ...
    @property
    def organisations(self) -> OrganisationRepo: ...
    @property
    def donations(self) -> DonationRepo: ...
    @property
    def payouts(self) -> PayoutRepo: ...
    @property
    def reports(self) -> ReportRepo: ...
    @property
    def challenges(self) -> ChallengeRepo: ...
    @property
    def intents(self) -> IntentRepo: ...
    @property
    def posts(self) -> InboundPostRepo: ...
    @property
    def topups(self) -> TopupRepo: ...
    @property
    def notices(self) -> NoticeRepo: ...
    @property
    def card(self) -> CardRepo: ...
    @property
    def throttle(self) -> ThrottleRepo: ...
    @property
    def audit(self) -> AuditRecorder: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# --- retrying a transaction the database gave up ---------------------------------------

log = structlog.get_logger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

RETRY_ATTEMPTS = 6
RETRY_MAX_SLEEP_S = 0.25
# Retries per operation since the process started: what ``uow.retry`` log lines add up to.
RETRIES: Counter[str] = Counter()


class TransientConflict(Exception):  # noqa: N818 — a condition, not a bug: it is retried
    """The database aborted the transaction for a concurrency reason (deadlock detected,
    serialization failure, SQLite still locked after its busy timeout). Nothing of it
    was kept: running it again from the start is safe."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def retry_conflicts(operation: Callable[P, T]) -> Callable[P, T]:
    """Run ``operation`` again when its transaction hits a ``TransientConflict``.

    For a service method that is one transaction, plus reads or idempotent calls before
    it: each attempt starts over, so it decides again on what is committed by then.
    Full-jitter exponential backoff, ``RETRY_ATTEMPTS`` in all; then ``BUSY``.
    """
    name = operation.__qualname__

    @functools.wraps(operation)
    def attempt(*args: P.args, **kwargs: P.kwargs) -> T:
        for n in range(1, RETRY_ATTEMPTS + 1):
            try:
                return operation(*args, **kwargs)
            except TransientConflict as conflict:
                RETRIES[name] += 1
                count_retry(name)  # envoi_transaction_retries_total on /metrics
                if n == RETRY_ATTEMPTS:
                    log.error("uow.gave_up", operation=name, attempts=n, reason=conflict.reason)
                    raise EnvoiError(ErrorCode.BUSY) from conflict
                log.warning("uow.retry", operation=name, attempt=n, reason=conflict.reason)
                # Not a secret: jitter only spreads the retries of colliding transactions.
                time.sleep(random.uniform(0, min(RETRY_MAX_SLEEP_S, 0.01 * 2**n)))  # noqa: S311
        raise AssertionError("unreachable")

    return attempt
