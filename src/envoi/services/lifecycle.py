"""A payment intent's life after its post: confirm with PIN, cancel, expire, claim, refund.

Each step is one transaction: a compare-and-set on the intent's state, its
ledger legs and its notifications commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import IntentKind, IntentState, Member, PayeeKind, PaymentIntent
from envoi.faults import crash_point
from envoi.ledger.model import CreateTransferResult, Transfer, TransferFlags
from envoi.services.announce import Announcer
from envoi.services.campaigns import pledge
from envoi.services.context import Context
from envoi.services.intake import destination, hold_transfers
from envoi.services.ledger_ops import require_ok, resolve_pending
from envoi.services.policy import enforce_limits, is_organisation
from envoi.services.receipts import issue_for
from envoi.services.secrets import check_pin_format, verify_pin
from envoi.services.unit_of_work import UnitOfWork, retry_conflicts

log = structlog.get_logger(__name__)


class Lifecycle:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- the payer acts ----------------------------------------------------------

    @retry_conflicts
    def confirm(
        self,
        member_id: str,
        intent_id: str,
        pin: str,
        *,
        expected_amount_minor: int | None = None,
        expected_payee: str | None = None,
    ) -> PaymentIntent:
        """Confirm with the PIN. The PIN unlocks this intent, this amount, this payee only."""
        settings = self.ctx.settings
        check_pin_format(pin)  # a typo in the format is not a guess: no attempt used
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            intent = self._own(uow, member_id, intent_id, payer_only=True)
            # Concurrent guesses queue here, so each sees the count the last one left.
            uow.members.lock(member_id)
            pin_hash, _failures, locked_until = uow.members.pin_state(member_id)
            if locked_until is not None and locked_until > now:
                raise EnvoiError(ErrorCode.PIN_LOCKED, minutes=_minutes(locked_until - now))
            if pin_hash is None:
                raise EnvoiError(ErrorCode.PIN_NOT_SET)
            if (
                expected_amount_minor is not None and expected_amount_minor != intent.amount.minor
            ) or (
                expected_payee is not None
                and expected_payee.lstrip("@#").lower() != intent.payee.handle.lower()
            ):
                raise EnvoiError(ErrorCode.INTENT_MISMATCH)
            if not verify_pin(self.ctx.pin_key, member_id, pin, pin_hash):
                error = self._wrong_pin(uow, member_id, now)
                uow.commit()  # the failure must count even though the confirmation fails
                log.warning("pin.wrong", member_id=member_id, intent_id=intent_id)
                raise error
            uow.members.reset_pin_failures(member_id)
            if intent.state is not IntentState.AWAITING_CONFIRMATION:
                raise EnvoiError(ErrorCode.INTENT_NOT_PENDING, state=intent.state.value)
            if now >= intent.expires_at:
                raise EnvoiError(ErrorCode.INTENT_EXPIRED)
            if intent.kind is IntentKind.REQUEST:
                # Asking counted nothing against the payer's caps: agreeing does.
                payer = self._member(uow, member_id)
                payee = (
                    self._member(uow, intent.payee.member_id) if intent.payee.member_id else None
                )
                enforce_limits(
                    uow,
                    settings,
                    payer,
                    intent.amount,
                    to_organisation=is_organisation(payee),
                    now=now,
                )
            settled = self._settle(uow, intent, now)
            crash_point("confirm.settled")  # mid-confirmation: legs written, not committed
            uow.commit()
        crash_point("confirm.committed")  # confirmed, and the payer was not answered
        log.info("intent.confirmed", intent_id=intent_id, state=settled.state.value)
        return settled

    def _wrong_pin(self, uow: UnitOfWork, member_id: str, now: datetime) -> EnvoiError:
        """Count the failure; every ``pin_max_attempts`` in a row lock the PIN, each lock
        twice as long as the last (up to a day), and the member is told."""
        settings = self.ctx.settings
        failures = uow.members.record_pin_failure(member_id)
        left = settings.pin_max_attempts - failures % settings.pin_max_attempts
        if left < settings.pin_max_attempts:
            return EnvoiError(ErrorCode.WRONG_PIN, remaining=left)
        rounds = failures // settings.pin_max_attempts
        locked_for = timedelta(seconds=min(settings.pin_lockout_s * 2 ** (rounds - 1), 86_400))
        uow.members.lock_pin(member_id, now + locked_for)
        minutes = _minutes(locked_for)
        uow.notices.notify(member_id, "pin_locked", {"minutes": minutes}, intent_id=None, now=now)
        return EnvoiError(ErrorCode.PIN_LOCKED, minutes=minutes)

    @retry_conflicts
    def cancel(self, member_id: str, intent_id: str) -> PaymentIntent:
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            intent = self._own(uow, member_id, intent_id, payer_only=False)
            if intent.state is not IntentState.AWAITING_CONFIRMATION:
                raise EnvoiError(ErrorCode.INTENT_NOT_PENDING, state=intent.state.value)
            ended = self.end_in(uow, intent, IntentState.CANCELLED, now)
            uow.commit()
        return ended

    # --- jobs --------------------------------------------------------------------

    def expire_due(self, *, limit: int = 100) -> int:
        """Close confirmation windows that have passed: the holds are voided."""

        def expire(uow: UnitOfWork, intent: PaymentIntent, now: datetime) -> bool:
            self.end_in(uow, intent, IntentState.EXPIRED, now)
            return True

        return self._one_by_one(IntentState.AWAITING_CONFIRMATION, expire, limit)

    def refund_due(self, *, limit: int = 100) -> int:
        """Give unclaimed escrowed money back to its payer when the claim window ends."""

        def refund(uow: UnitOfWork, intent: PaymentIntent, now: datetime) -> bool:
            payer_id = intent.payer_member_id
            transfers = self._release_escrow(uow, intent, payer_id, IntentState.REFUNDED, now)
            if transfers is None:
                return False
            require_ok(uow.ledger.create_transfers(transfers))
            Announcer(self.ctx, uow, now).ended(intent, self._member(uow, payer_id), "refunded")
            return True

        return self._one_by_one(IntentState.CLAIMABLE, refund, limit)

    def _one_by_one(
        self,
        state: IntentState,
        step: Callable[[UnitOfWork, PaymentIntent, datetime], bool],
        limit: int,
    ) -> int:
        """One transaction per intent: each takes its ledger locks in one round (no
        deadlock between workers) and one bad intent cannot hold back the others."""
        done = 0
        for _ in range(limit):
            moved = self._next_due(state, step)
            if moved is None:
                break
            done += moved
        return done

    @retry_conflicts
    def _next_due(
        self, state: IntentState, step: Callable[[UnitOfWork, PaymentIntent, datetime], bool]
    ) -> int | None:
        """Step one due intent on, in its own transaction; None when none is due."""
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            due = uow.intents.due(state, now, limit=1)
            if not due:
                return None
            moved = step(uow, due[0], now)
            uow.commit()
        return int(moved)

    def claim_linked(self, *, limit: int = 100) -> int:
        """Safety net: money still in escrow for a network account that a member has
        linked goes to that member now, not back to the payer when the window ends.

        The claim lock makes a confirmation and a link see each other, so this should
        find nothing; it is here for whatever path was missed (and says so in the log).
        """
        with self.ctx.uow() as uow:
            waiting = uow.intents.claimable_by_members(limit=limit)
        return sum(self._claim_linked(network, user_id) for network, user_id in waiting)

    @retry_conflicts
    def _claim_linked(self, network: str, user_id: str) -> int:
        with self.ctx.uow() as uow:
            uow.identities.lock_account(network, user_id)  # then read who holds it
            member = uow.identities.member_for(network, user_id)
            if member is None:
                return 0  # unlinked in the meantime: the money keeps waiting
            moved = self.claim_for(uow, member, network, user_id)
            uow.commit()
        if moved:
            log.warning("escrow.claimed_late", network=network, member_id=member.id, moved=moved)
        return moved

    def claim_for(self, uow: UnitOfWork, member: Member, network: str, user_id: str) -> int:
        """Money waiting for a network identity goes to the member who just linked it;
        returns how many intents moved (claimed, or refunded to a payer paying itself)."""
        now = self.ctx.clock.now()
        # A confirmation deciding escrow for this account holds this until it commits:
        # what it puts in escrow, the query below then sees.
        uow.identities.lock_account(network, user_id)
        announcer = Announcer(self.ctx, uow, now)
        transfers: list[Transfer] = []
        claimed = 0
        for intent in uow.intents.claimable_for(network, user_id):
            # Paying yourself through an account you had not linked: it just comes back.
            own = intent.payer_member_id == member.id
            state = IntentState.REFUNDED if own else IntentState.CLAIMED
            released = self._release_escrow(uow, intent, member.id, state, now)
            if released is None:
                continue  # someone else got there first
            transfers += released
            claimed += 1
            if own:
                announcer.ended(intent, member, "refunded")
            else:
                announcer.claimed(intent, self._member(uow, intent.payer_member_id), member)
        if transfers:
            # One batch: the ledger takes all its locks in one ordered round.
            require_ok(uow.ledger.create_transfers(transfers))
        return claimed

    # --- shared steps --------------------------------------------------------------

    def end_in(
        self, uow: UnitOfWork, intent: PaymentIntent, state: IntentState, now: datetime
    ) -> PaymentIntent:
        """Cancel or expire: void the holds, tell the payer nothing was taken."""
        if not uow.intents.transition(
            intent.id, IntentState.AWAITING_CONFIRMATION, state, finished_at=now
        ):
            raise EnvoiError(ErrorCode.INTENT_NOT_PENDING)
        if intent.kind is not IntentKind.REQUEST:
            holds = hold_transfers(intent, self.ctx.settings.confirmation_window_s)
            # Each hold on its own: one the ledger already released (its timeout) is done.
            voids = resolve_pending(holds, post=False, linked=False)
            outcomes = uow.ledger.create_transfers(voids)
            require_ok([o for o in outcomes if o.result not in _ALREADY_RELEASED])
        payer = self._member(uow, intent.payer_member_id)
        Announcer(self.ctx, uow, now).ended(intent, payer, state.value)
        ended = uow.intents.get(intent.id)
        assert ended is not None
        return ended

    def _settle(self, uow: UnitOfWork, intent: PaymentIntent, now: datetime) -> PaymentIntent:
        if intent.kind is IntentKind.POT and intent.payee.pot_id is not None:
            pot = uow.pots.get(intent.payee.pot_id)
            if pot is None or not pot.open_at(now):
                raise EnvoiError(ErrorCode.POT_CLOSED, pot=intent.payee.handle)
            if pot.all_or_nothing:
                pledge(self.ctx, uow, intent, pot, now)
                pledged = uow.intents.get(intent.id)
                assert pledged is not None
                return pledged
        joined = self._joined_since(uow, intent)
        escrowed = intent.payee.kind is PayeeKind.IDENTITY and joined is None
        new_state = IntentState.CLAIMABLE if escrowed else IntentState.SETTLED
        fields: dict[str, object] = {"settled_at": now}
        if escrowed:
            fields["claim_expires_at"] = now + timedelta(seconds=self.ctx.settings.claim_window_s)
        else:
            fields["finished_at"] = now
        if joined is not None:
            fields["payee_member_id"] = joined.id
        if not uow.intents.transition(
            intent.id, IntentState.AWAITING_CONFIRMATION, new_state, **fields
        ):
            raise EnvoiError(ErrorCode.INTENT_NOT_PENDING)
        holds = hold_transfers(intent, self.ctx.settings.confirmation_window_s)
        transfers = resolve_pending(holds, post=True)
        if intent.kind is IntentKind.REQUEST:
            # Nothing was held for a request: hold and post in one go, linked.
            transfers = [_linked(t) for t in holds] + transfers
        if joined is not None:
            # Held for someone who has linked a wallet since: straight on to it, same batch.
            transfers += _out_of_escrow(intent, joined.id, IntentState.CLAIMED)
        else:
            transfers += self._payee_fee(intent)
        require_ok(uow.ledger.create_transfers(transfers))
        issue_for(uow, intent, now)  # a donation's tax receipt, numbered in this transaction
        payer = self._member(uow, intent.payer_member_id)
        payee = joined or (
            self._member(uow, intent.payee.member_id) if intent.payee.member_id else None
        )
        settled = uow.intents.get(intent.id)
        assert settled is not None
        announcer = Announcer(self.ctx, uow, now)
        if escrowed:
            announcer.claimable(settled, payer)
        else:
            announcer.settled(settled, payer, payee)
        return settled

    @staticmethod
    def _joined_since(uow: UnitOfWork, intent: PaymentIntent) -> Member | None:
        """The member who linked the payee's network account after the post, if any."""
        payee = intent.payee
        if payee.kind is not PayeeKind.IDENTITY or not payee.network or not payee.network_user_id:
            return None
        # A link of this account holds this until it commits: the read below sees it.
        uow.identities.lock_account(payee.network, payee.network_user_id)
        member = uow.identities.member_for(payee.network, payee.network_user_id)
        if member is not None and member.id == intent.payer_member_id:
            raise EnvoiError(ErrorCode.SELF_PAYMENT)
        return member

    def _payee_fee(self, intent: PaymentIntent) -> list[Transfer]:
        if intent.fee.minor == 0 or intent.fee_charged_to != "payee":
            return []
        if intent.payee.kind is PayeeKind.IDENTITY:
            return []  # taken when the money is claimed
        return [_fee_transfer(intent, destination(intent))]

    def _release_escrow(
        self,
        uow: UnitOfWork,
        intent: PaymentIntent,
        to_member_id: str,
        state: IntentState,
        now: datetime,
    ) -> list[Transfer] | None:
        """Move a claimable intent on; the transfers to make, or None if it had moved already."""
        fields: dict[str, object] = {"finished_at": now}
        if state is IntentState.CLAIMED:
            fields["payee_member_id"] = to_member_id
        if not uow.intents.transition(intent.id, IntentState.CLAIMABLE, state, **fields):
            return None  # someone else (another worker, a concurrent claim) got there first
        return _out_of_escrow(intent, to_member_id, state)

    def _own(
        self, uow: UnitOfWork, member_id: str, intent_id: str, *, payer_only: bool
    ) -> PaymentIntent:
        intent = uow.intents.get(intent_id)
        if intent is None or (
            member_id != intent.payer_member_id
            and (payer_only or member_id != intent.requester_member_id)
        ):
            # Someone else's intent is as unknown as a missing one.
            raise EnvoiError(ErrorCode.INTENT_NOT_FOUND)
        return intent

    @staticmethod
    def _member(uow: UnitOfWork, member_id: str) -> Member:
        member = uow.members.get(member_id)
        assert member is not None, member_id
        return member


_ALREADY_RELEASED = {
    CreateTransferResult.PENDING_TRANSFER_ALREADY_VOIDED,
    CreateTransferResult.PENDING_TRANSFER_EXPIRED,
}


def _minutes(span: timedelta) -> int:
    """Whole minutes, rounded up: "locked for 0 min" would be a lie."""
    return max(1, -(-int(span.total_seconds()) // 60))


def _linked(transfer: Transfer) -> Transfer:
    return replace(transfer, flags=transfer.flags | TransferFlags.LINKED)


def _out_of_escrow(intent: PaymentIntent, member_id: str, state: IntentState) -> list[Transfer]:
    """Escrowed money to a wallet (claimed by the payee, or refunded to the payer)."""
    currency = intent.amount.currency
    transfers = [
        Transfer(
            id=f"{intent.id}:{state.value}",
            debit_account_id=accounts.escrow(currency),
            credit_account_id=accounts.wallet(member_id),
            amount=intent.amount.minor,
            currency=currency,
            code=state.value,
            reference=intent.id,
        )
    ]
    if state is not IntentState.REFUNDED and intent.fee_charged_to == "payee" and intent.fee.minor:
        transfers.append(_fee_transfer(intent, accounts.wallet(member_id)))
    return transfers


def _fee_transfer(intent: PaymentIntent, debit_account: str) -> Transfer:
    return Transfer(
        id=f"{intent.id}:payee_fee",
        debit_account_id=debit_account,
        credit_account_id=accounts.fees(intent.amount.currency),
        amount=intent.fee.minor,
        currency=intent.amount.currency,
        code="fee",
        reference=intent.id,
    )
