"""What a member reads: balance, payments to confirm, history, notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from envoi.domain import accounts
from envoi.domain.model import (
    IntentState,
    Member,
    MemberKind,
    Organisation,
    PayeeKind,
    PaymentIntent,
)
from envoi.ledger.model import AccountBalance
from envoi.services.announce import render_notification
from envoi.services.context import Context

_RECEIVED = {IntentState.SETTLED, IntentState.CLAIMED}
# How long a top-up waiting for its 3-D Secure answer stays in the history.
CHALLENGE_SHOWN_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Movement:
    """One line of history, from the member's point of view."""

    id: str
    type: str  # "payment" or "topup"
    kind: str  # send, donate, request, pot, topup
    direction: str  # "in" or "out"
    amount_minor: int
    fee_minor: int
    currency: str
    counterparty_handle: str
    counterparty_name: str
    state: str
    at: datetime


@dataclass(frozen=True)
class PayeeNow:
    """The payee as things stand now, not as the intent recorded them when it was made:
    someone who has opened a wallet since is a member, shown by their wallet name."""

    name: str
    member: Member | None  # None: not a member (yet), or a pot
    organisation: Organisation | None  # a verified organisation's legal identity

    @property
    def verified_organisation(self) -> bool:
        return (
            self.member is not None
            and self.member.kind is MemberKind.ORGANISATION
            and self.member.verified
        )


class Wallet:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def balance(self, member_id: str) -> AccountBalance:
        with self.ctx.uow() as uow:
            return uow.ledger.balance(accounts.wallet(member_id))

    def ledger_balance(self, account_id: str) -> AccountBalance:
        """Any ledger account's balance (a pot, a system account): for the operator."""
        with self.ctx.uow() as uow:
            return uow.ledger.balance(account_id)

    def to_confirm(self, member_id: str) -> list[PaymentIntent]:
        with self.ctx.uow() as uow:
            return uow.intents.to_confirm(member_id)

    def intents(self, member_id: str, state: IntentState | None) -> list[PaymentIntent]:
        with self.ctx.uow() as uow:
            return uow.intents.for_member(member_id, state=state)

    def intent(self, member_id: str, intent_id: str) -> PaymentIntent | None:
        with self.ctx.uow() as uow:
            intent = uow.intents.get(intent_id)
        parties = (
            {intent.payer_member_id, intent.payee.member_id, intent.requester_member_id}
            if intent
            else set()
        )
        return intent if member_id in parties else None

    def payee_now(self, intent: PaymentIntent) -> PayeeNow:
        payee = intent.payee
        with self.ctx.uow() as uow:
            member: Member | None = None
            if payee.kind is PayeeKind.MEMBER and payee.member_id:
                member = uow.members.get(payee.member_id)
            elif payee.kind is PayeeKind.IDENTITY and payee.network and payee.network_user_id:
                member = uow.identities.member_for(payee.network, payee.network_user_id)
            organisation = (
                uow.members.organisation(member.id)
                if member is not None and member.kind is MemberKind.ORGANISATION
                else None
            )
        name = member.display_name if member is not None else payee.display_name
        return PayeeNow(name or payee.handle, member, organisation)

    def history(self, member_id: str, limit: int = 100) -> list[Movement]:
        """Money that moved (and payments waiting for this member), newest first. A
        declined top-up is not money; an unanswered 3-D Secure challenge shows as waiting
        for an hour, then no more (if the bank answers later, the credit appears)."""
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            intents = uow.intents.for_member(member_id, limit=limit)
            topups = uow.topups.of_member(member_id, limit=limit)
            # One look-up per payer, not per payment (most lines share a few payers).
            payers = {pid: uow.members.get(pid) for pid in {i.payer_member_id for i in intents}}
        lines: list[Movement] = []
        for intent in intents:
            outgoing = intent.payer_member_id == member_id
            if not outgoing and intent.state not in _RECEIVED:
                continue  # money that never reached this member is not a movement of theirs
            payer = payers.get(intent.payer_member_id)
            lines.append(
                Movement(
                    id=intent.id,
                    type="payment",
                    kind=intent.kind.value,
                    direction="out" if outgoing else "in",
                    amount_minor=intent.amount.minor,
                    fee_minor=intent.fee.minor,
                    currency=intent.amount.currency,
                    counterparty_handle=intent.payee.handle if outgoing else "",
                    counterparty_name=intent.payee.display_name
                    if outgoing
                    else (payer.display_name if payer else ""),
                    state=intent.state.value,
                    at=intent.settled_at or intent.created_at,
                )
            )
        for topup in topups:
            if topup.status == "declined":
                continue  # no money moved: the refusal was said when it happened
            if topup.status != "succeeded" and now - topup.created_at > CHALLENGE_SHOWN_FOR:
                continue  # a 3-D Secure challenge left unanswered: it has expired for the person
            lines.append(
                Movement(
                    id=topup.id,
                    type="topup",
                    kind="topup",
                    direction="in",
                    amount_minor=topup.amount.minor,
                    fee_minor=0,
                    currency=topup.amount.currency,
                    counterparty_handle="",
                    counterparty_name=f"•••• {topup.last4}" if topup.last4 else "",
                    state=topup.status,
                    at=topup.created_at,
                )
            )
        lines.sort(key=lambda m: m.at, reverse=True)
        return lines[:limit]

    def notifications(self, member_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.ctx.uow() as uow:
            member = uow.members.get(member_id)
            rows = uow.notices.notifications(member_id, limit)
        locale = member.locale if member else self.ctx.settings.default_locale
        return [
            {**row, "text": render_notification(row["code"], row["params"], locale)} for row in rows
        ]
