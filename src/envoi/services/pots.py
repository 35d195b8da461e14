"""Pots ("cagnottes") and crowdfunding campaigns: created by a member, filled by posts
(``@SmoneyFR #cagnotte 20€ #AnnivJulie``) or from their public page, paid out by their
owner to a member or to an IBAN, or closed. Every movement is a ledger transfer.

A campaign (``all_or_nothing``) holds each pledge as a pending transfer until its
deadline; then ``settle_campaigns`` posts them all at once if the goal is reached, or
voids them all (nobody is charged) and tells everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import segno
import structlog

from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import (
    IntentKind,
    IntentState,
    Member,
    Payee,
    PayeeKind,
    PaymentIntent,
    Payout,
    Pot,
    PotContribution,
)
from envoi.ledger.model import Transfer
from envoi.money import Money
from envoi.services.announce import Announcer
from envoi.services.context import Context
from envoi.services.intake import hold_transfers
from envoi.services.ledger_ops import require_ok
from envoi.services.payouts import request_payout
from envoi.services.policy import enforce_limits, fee_for, fee_rule
from envoi.services.reversals import Reversals
from envoi.services.secrets import new_id
from envoi.services.unit_of_work import UnitOfWork, retry_conflicts

log = structlog.get_logger(__name__)

SETTLED_STATES = (IntentState.SETTLED.value,)
PLEDGED_STATES = (IntentState.PLEDGED.value,)


@dataclass(frozen=True)
class PotPage:
    pot: Pot
    owner: Member
    raised: Money  # posted on the pot (a campaign: pledged so far, until it ends)
    paid_out: Money
    contributors: int
    names: list[str]  # of contributors who chose to show their name
    contributions: list[PotContribution]
    url: str
    open: bool

    @property
    def progress_percent(self) -> int | None:
        if self.pot.goal is None:
            return None
        return min(100, self.raised.minor * 100 // self.pot.goal.minor)

    def qr_svg(self) -> str:
        """A QR code of the page's address, to share (segno, inline SVG)."""
        svg: str = segno.make(self.url, error="m").svg_inline(scale=4, title=self.pot.title)
        return svg


class Pots:
    def __init__(self, ctx: Context, reversals: Reversals) -> None:
        self.ctx = ctx
        self.reversals = reversals

    def by_hashtag(self, hashtag: str) -> Pot:
        with self.ctx.uow() as uow:
            pot = uow.pots.by_hashtag(hashtag.lstrip("#").lower())
        if pot is None:
            raise EnvoiError(ErrorCode.UNKNOWN_POT, pot=hashtag.lstrip("#"))
        return pot

    def page(self, hashtag: str) -> PotPage:
        pot = self.by_hashtag(hashtag)
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            owner = uow.members.get(pot.owner_member_id)
            assert owner is not None
            states = PLEDGED_STATES + SETTLED_STATES if pot.all_or_nothing else SETTLED_STATES
            contributions = uow.pots.contributions(pot.id, states)
            balance = uow.ledger.balance(accounts.pot(pot.id))
        currency = balance.currency
        raised = sum(c.amount.minor for c in contributions)
        names = list(dict.fromkeys(c.name for c in contributions if c.name))
        return PotPage(
            pot=pot,
            owner=owner,
            raised=Money(raised, currency),
            paid_out=Money(balance.debits_posted + balance.debits_pending, currency),
            contributors=len({c.member_id for c in contributions}),
            names=names,
            contributions=contributions,
            url=self.ctx.url(f"/pots/{pot.hashtag}"),
            open=pot.open_at(now),
        )

    @retry_conflicts
    def contribute(self, member_id: str, hashtag: str, amount_minor: int) -> PaymentIntent:
        """From the pot's page: an intent to confirm with the PIN, like one from a post."""
        settings = self.ctx.settings
        if not 0 < amount_minor <= settings.amount_ceiling_minor:
            raise EnvoiError(
                ErrorCode.AMOUNT_OUT_OF_RANGE,
                min_minor=1,
                max_minor=settings.amount_ceiling_minor,
            )
        now = self.ctx.clock.now()
        amount = Money(amount_minor, settings.currency)
        with self.ctx.uow() as uow:
            pot = uow.pots.by_hashtag(hashtag.lstrip("#").lower())
            if pot is None:
                raise EnvoiError(ErrorCode.UNKNOWN_POT, pot=hashtag)
            if not pot.open_at(now):
                raise EnvoiError(ErrorCode.POT_CLOSED, pot=pot.hashtag)
            payer = uow.members.get(member_id)
            assert payer is not None
            enforce_limits(uow, settings, payer, amount, to_organisation=False, now=now)
            rule = fee_rule(settings, IntentKind.POT)
            intent = PaymentIntent(
                id=new_id("int"),
                kind=IntentKind.POT,
                state=IntentState.AWAITING_CONFIRMATION,
                payer_member_id=payer.id,
                payee=Payee(PayeeKind.POT, pot.hashtag, pot.title, pot_id=pot.id),
                amount=amount,
                fee=fee_for(rule, amount),
                fee_charged_to=rule.charged_to,
                privacy=payer.privacy,
                source_network=None,
                source_post_id=None,
                requester_member_id=None,
                payer_network_user_id=None,
                payer_handle=None,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.confirmation_window_s),
            )
            require_ok(
                uow.ledger.create_transfers(hold_transfers(intent, settings.confirmation_window_s))
            )
            uow.intents.add(intent)
            Announcer(self.ctx, uow, now).created(intent, payer)
            uow.commit()
        return intent

    @retry_conflicts
    def choose(self, member_id: str, intent_id: str, *, show_name: bool) -> None:
        """Whether this contributor's name appears on the pot's page."""
        with self.ctx.uow() as uow:
            intent = uow.intents.get(intent_id)
            if intent is None or intent.payer_member_id != member_id or intent.payee.pot_id is None:
                raise EnvoiError(ErrorCode.INTENT_NOT_FOUND)
            uow.pots.choose(intent_id, intent.payee.pot_id, show_name)
            uow.commit()

    @retry_conflicts
    def close(self, member_id: str, hashtag: str) -> Pot:
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            pot = self._owned(uow, member_id, hashtag)
            if pot.all_or_nothing and pot.outcome is None:
                raise EnvoiError(ErrorCode.CAMPAIGN_RUNNING)
            uow.pots.close(pot.id, now)
            uow.audit.record("pot.closed", member_id, pot=pot.id)
            closed = uow.pots.get(pot.id)
            assert closed is not None
            uow.commit()
        return closed

    def pay_out_to_member(self, member_id: str, hashtag: str, to_member_id: str) -> Money:
        """Everything the pot holds, to a member's wallet (the owner's own, or another's)."""
        self.reversals.require_nothing_owed(to_member_id)
        return self._pay_out_to_member(member_id, hashtag, to_member_id)

    @retry_conflicts
    def _pay_out_to_member(self, member_id: str, hashtag: str, to_member_id: str) -> Money:
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            pot = self._payable(uow, member_id, hashtag)
            to = uow.members.get(to_member_id)
            if to is None:
                raise EnvoiError(ErrorCode.NOT_FOUND)
            amount = self._available(uow, pot)
            require_ok(
                uow.ledger.create_transfers(
                    [
                        Transfer(
                            id=new_id("pout"),
                            debit_account_id=accounts.pot(pot.id),
                            credit_account_id=accounts.wallet(to.id),
                            amount=amount.minor,
                            currency=amount.currency,
                            code="pot_payout",
                            reference=pot.id,
                        )
                    ]
                )
            )
            uow.notices.notify(
                to.id,
                "pot_paid_out",
                {"pot": pot.hashtag, "amount": amount.format(to.locale)},
                intent_id=None,
                now=now,
            )
            uow.audit.record("pot.paid_out", member_id, pot=pot.id, to=to.id, minor=amount.minor)
            uow.commit()
        return amount

    def pay_out_to_iban(
        self, member_id: str, hashtag: str, *, iban: str, name: str, bic: str | None = None
    ) -> Payout:
        """Everything the pot holds, to an IBAN: held on payout clearing until the bank
        executes the batch it goes in."""
        self.reversals.require_nothing_owed(member_id)
        return self._pay_out_to_iban(member_id, hashtag, iban, name, bic)

    @retry_conflicts
    def _pay_out_to_iban(
        self, member_id: str, hashtag: str, iban: str, name: str, bic: str | None
    ) -> Payout:
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            pot = self._payable(uow, member_id, hashtag)
            payout = request_payout(
                uow,
                source_account=accounts.pot(pot.id),
                requested_by=member_id,
                amount=self._available(uow, pot),
                creditor_name=name,
                iban=iban,
                bic=bic,
                remittance=f"Cagnotte {pot.title}",
                now=now,
                pot_id=pot.id,
            )
            uow.commit()
        return payout

    # --- campaigns ---------------------------------------------------------------------

    def settle_campaigns(self, *, limit: int = 20) -> int:
        """Campaigns past their deadline: all pledges posted (goal reached) or voided."""
        done = 0
        for _ in range(limit):
            settled = self._settle_next_campaign()
            if settled is None:
                break
            done += 1
        return done

    @retry_conflicts
    def _settle_next_campaign(self) -> str | None:
        from envoi.services.campaigns import settle_campaign

        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            due = uow.pots.campaigns_due(now, limit=1)
            if not due:
                return None
            outcome = settle_campaign(self.ctx, uow, due[0], now)
            uow.commit()
        log.info("campaign.settled", pot=due[0].id, outcome=outcome)
        return outcome

    # --- shared steps ------------------------------------------------------------------

    @staticmethod
    def _owned(uow: UnitOfWork, member_id: str, hashtag: str) -> Pot:
        pot = uow.pots.by_hashtag(hashtag.lstrip("#").lower())
        if pot is None or pot.owner_member_id != member_id:
            # Someone else's pot is as unknown as a missing one.
            raise EnvoiError(ErrorCode.UNKNOWN_POT, pot=hashtag.lstrip("#"))
        return pot

    def _payable(self, uow: UnitOfWork, member_id: str, hashtag: str) -> Pot:
        pot = self._owned(uow, member_id, hashtag)
        if pot.all_or_nothing and pot.outcome != "succeeded":
            raise EnvoiError(ErrorCode.CAMPAIGN_RUNNING)
        return pot

    @staticmethod
    def _available(uow: UnitOfWork, pot: Pot) -> Money:
        balance = uow.ledger.balance(accounts.pot(pot.id))
        if balance.available <= 0:
            raise EnvoiError(ErrorCode.POT_EMPTY)
        return Money(balance.available, balance.currency)
