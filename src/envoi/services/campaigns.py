"""All-or-nothing crowdfunding: a confirmed pledge is held (a pending transfer whose
timeout is the campaign's deadline plus a day's grace) until the deadline; then every
pledge is posted at once (goal reached) or voided (missed: nobody is charged), and
every pledger is told, in the app and on the network they pledged from."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import render
from envoi.domain.model import IntentState, PaymentIntent, Pot
from envoi.ledger.model import Transfer, TransferFlags
from envoi.services.context import Context
from envoi.services.intake import hold_transfers
from envoi.services.ledger_ops import require_ok, resolve_pending
from envoi.services.unit_of_work import UnitOfWork

GRACE = timedelta(days=1)  # the ledger's own timeout, should the settling job be late


def pledge_transfers(intent: PaymentIntent, timeout_s: int = 0) -> list[Transfer]:
    """The pledge (and the payer's fee, if any) held from the wallet to the pot."""
    assert intent.payee.pot_id is not None
    fee_by_payer = intent.fee.minor > 0 and intent.fee_charged_to == "payer"
    pledge = Transfer(
        id=f"{intent.id}:pledge",
        debit_account_id=accounts.wallet(intent.payer_member_id),
        credit_account_id=accounts.pot(intent.payee.pot_id),
        amount=intent.amount.minor,
        currency=intent.amount.currency,
        code="pledge",
        flags=TransferFlags.PENDING
        | (TransferFlags.LINKED if fee_by_payer else TransferFlags.NONE),
        timeout_s=timeout_s,
        reference=intent.id,
    )
    if not fee_by_payer:
        return [pledge]
    fee = Transfer(
        id=f"{intent.id}:pledge_fee",
        debit_account_id=accounts.wallet(intent.payer_member_id),
        credit_account_id=accounts.fees(intent.amount.currency),
        amount=intent.fee.minor,
        currency=intent.amount.currency,
        code="fee",
        flags=TransferFlags.PENDING,
        timeout_s=timeout_s,
        reference=intent.id,
    )
    return [pledge, fee]


def pledge(ctx: Context, uow: UnitOfWork, intent: PaymentIntent, pot: Pot, now: datetime) -> None:
    """At confirmation: the confirmation hold becomes a pledge held until the deadline."""
    assert pot.closes_at is not None
    if not uow.intents.transition(
        intent.id, IntentState.AWAITING_CONFIRMATION, IntentState.PLEDGED, settled_at=now
    ):
        raise EnvoiError(ErrorCode.INTENT_NOT_PENDING)
    timeout = int((pot.closes_at + GRACE - now).total_seconds())
    holds = hold_transfers(intent, ctx.settings.confirmation_window_s)
    # One batch: the confirmation hold released, the pledge held, all or nothing.
    voids = resolve_pending(holds, post=False)
    voids[-1] = _linked(voids[-1])
    require_ok(uow.ledger.create_transfers(voids + pledge_transfers(intent, timeout)))


def settle_campaign(ctx: Context, uow: UnitOfWork, pot: Pot, now: datetime) -> str:
    """The deadline has passed: all pledges posted, or all voided. Returns the outcome."""
    assert pot.goal is not None
    pledged = [
        i
        for c in uow.pots.contributions(pot.id, (IntentState.PLEDGED.value,))
        if (i := uow.intents.get(c.intent_id)) is not None
    ]
    total = sum(i.amount.minor for i in pledged)
    outcome = "succeeded" if total >= pot.goal.minor else "failed"
    if not uow.pots.set_outcome(pot.id, outcome, now):
        return outcome  # another worker settled it
    to_state = IntentState.SETTLED if outcome == "succeeded" else IntentState.CANCELLED
    transfers: list[Transfer] = []
    for intent in pledged:
        if uow.intents.transition(intent.id, IntentState.PLEDGED, to_state, finished_at=now):
            transfers += resolve_pending(
                pledge_transfers(intent), post=outcome == "succeeded", linked=False
            )
            _tell(ctx, uow, intent, pot, code=f"campaign_{outcome}", now=now)
    if transfers:
        # Posted (or voided) at once: one batch, its locks taken in one ordered round.
        require_ok(uow.ledger.create_transfers(transfers))
    uow.audit.record(
        "campaign.settled", pot.owner_member_id, pot=pot.id, outcome=outcome, pledged=total
    )
    return outcome


def _tell(
    ctx: Context, uow: UnitOfWork, intent: PaymentIntent, pot: Pot, *, code: str, now: datetime
) -> None:
    payer = uow.members.get(intent.payer_member_id)
    assert payer is not None
    params = {"pot": pot.hashtag, "amount": intent.amount.format(payer.locale)}
    uow.notices.notify(payer.id, code, params, intent_id=intent.id, now=now)
    # On the network too: by DM to the account that pledged (the post's author).
    network, user_id = intent.source_network, intent.payer_network_user_id
    if network is None or user_id is None:
        identity = next(iter(uow.identities.of_member(payer.id)), None)
        if identity is None:
            return
        network, user_id = identity.network, identity.network_user_id
    if network not in ctx.gateways:
        return
    uow.notices.enqueue(
        kind="dm",
        network=network,
        target=user_id,
        text=render(code, payer.locale, **params),
        dedupe_key=f"{intent.id}:{code}:dm",
        now=now,
    )


def _linked(transfer: Transfer) -> Transfer:
    return replace(transfer, flags=transfer.flags | TransferFlags.LINKED)
