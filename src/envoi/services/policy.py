"""Limits and fees: configuration turned into decisions."""

from __future__ import annotations

from datetime import datetime, timedelta

from envoi.config import FeeRule, Settings
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import IntentKind, Member, MemberKind
from envoi.money import Money
from envoi.services.unit_of_work import UnitOfWork


def fee_for(rule: FeeRule, amount: Money) -> Money:
    """Fixed + percentage, clamped to [min, max] and never more than the amount itself."""
    fee = Money(rule.fixed_minor, amount.currency) + amount.percent(rule.basis_points)
    minor = max(fee.minor, rule.min_minor)
    if rule.max_minor is not None:
        minor = min(minor, rule.max_minor)
    return Money(max(0, min(minor, amount.minor)), amount.currency)


def fee_rule(settings: Settings, kind: IntentKind) -> FeeRule:
    return {
        IntentKind.SEND: settings.fee_send,
        IntentKind.REQUEST: settings.fee_request,
        IntentKind.DONATE: settings.fee_donate,
        IntentKind.POT: settings.fee_pot,
    }[kind]


def per_payment_limit(settings: Settings, payer: Member, to_organisation: bool) -> int:
    limit = (
        settings.limit_org_per_payment_minor
        if to_organisation
        else settings.limit_p2p_per_payment_minor
    )
    if not payer.verified:
        limit = min(limit, settings.limit_unverified_per_payment_minor)
    return limit


def check_limits(
    settings: Settings,
    payer: Member,
    amount: Money,
    *,
    to_organisation: bool,
    spent_day: int,
    spent_month: int,
) -> None:
    """Raise the first limit the payment would break; ``spent_*`` are already committed sums."""
    limit = per_payment_limit(settings, payer, to_organisation)
    if amount.minor > limit:
        raise EnvoiError(ErrorCode.LIMIT_PER_PAYMENT, limit_minor=limit)
    if spent_day + amount.minor > settings.limit_daily_minor:
        raise EnvoiError(ErrorCode.LIMIT_DAILY, limit_minor=settings.limit_daily_minor)
    monthly = settings.limit_monthly_minor
    if not payer.verified:
        monthly = min(monthly, settings.limit_unverified_monthly_minor)
    if spent_month + amount.minor > monthly:
        raise EnvoiError(ErrorCode.LIMIT_MONTHLY, limit_minor=monthly)


def enforce_limits(
    uow: UnitOfWork,
    settings: Settings,
    payer: Member,
    amount: Money,
    *,
    to_organisation: bool,
    now: datetime,
) -> None:
    """Check the caps against what this payer has committed, with the payer locked so two
    payments at once cannot both fit under a cap that only one of them fits."""
    uow.members.lock(payer.id)
    day, month = windows(now)
    check_limits(
        settings,
        payer,
        amount,
        to_organisation=to_organisation,
        spent_day=uow.intents.outgoing_total(payer.id, day),
        spent_month=uow.intents.outgoing_total(payer.id, month),
    )


def windows(now: datetime) -> tuple[datetime, datetime]:
    """Rolling windows for the daily and monthly caps (no midnight reset to game)."""
    return now - timedelta(days=1), now - timedelta(days=30)


def is_organisation(member: Member | None) -> bool:
    return member is not None and member.kind is MemberKind.ORGANISATION and member.verified
