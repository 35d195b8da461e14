"""Tell people what happened, never more than the privacy mode allows.

In-app notifications always; on the network: a public reply with amount and
payee (``public``), a public reply without them (``discreet``), or direct
messages only (``private``, and every command that came by DM). All of it is
written in the same transaction as the state change (outbox rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from envoi.domain.catalog_flow import DECLINE_REASONS
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import render, render_error
from envoi.domain.model import (
    Identity,
    IntentKind,
    Locale,
    Member,
    PayeeKind,
    PaymentIntent,
    Privacy,
)
from envoi.money import Money
from envoi.services.context import Context
from envoi.services.ports import InboundPost
from envoi.services.unit_of_work import UnitOfWork


def _raw(ctx: Context, intent: PaymentIntent, payer_name: str) -> dict[str, Any]:
    return {
        "amount_minor": intent.amount.minor,
        "currency": intent.amount.currency,
        "payer": payer_name,
        "payee": intent.payee.display_name,
        "url": ctx.url(f"/wallet/intents/{intent.id}"),
    }


def _text(key: str, locale: Locale, raw: dict[str, Any], **overrides: Any) -> str:
    amount = Money(int(raw["amount_minor"]), str(raw["currency"])).format(locale)
    return render(key, locale, **{**raw, "amount": amount, **overrides})


def render_notification(code: str, params: dict[str, Any], locale: Locale) -> str:
    reason = params.get("reason")
    if isinstance(reason, str) and reason in DECLINE_REASONS:
        params = {**params, "reason": DECLINE_REASONS[reason][locale]}
    if "amount_minor" in params:
        return _text(code, locale, params)
    return render(code, locale, **params)


@dataclass(frozen=True)
class _Names:
    payer_at: str  # "@alice" when linked on the post's network, else the display name
    payer_handle: str  # "alice", for templates that add the "@" themselves
    payer_user_id: str | None  # where a DM to the payer goes
    payee_at: str  # "@bob" or "#AnnivJulie"
    raw: dict[str, Any]  # the in-app notification's parameters


class Announcer:
    def __init__(self, ctx: Context, uow: UnitOfWork, now: datetime) -> None:
        self.ctx, self.uow, self.now = ctx, uow, now

    # --- building blocks ------------------------------------------------------

    def _linked(self, member_id: str, network: str | None) -> Identity | None:
        if network is None:
            return None
        return self.uow.identities.first_of_member(member_id, network)

    def _names(self, intent: PaymentIntent, payer: Member) -> _Names:
        # The account of this exchange only: naming another account the member linked
        # would unmask it.
        handle, user_id = intent.payer_handle, intent.payer_network_user_id
        sigil = "#" if intent.payee.kind is PayeeKind.POT else "@"
        return _Names(
            payer_at=f"@{handle}" if handle else payer.display_name,
            payer_handle=handle or payer.display_name,
            payer_user_id=user_id,
            payee_at=f"{sigil}{intent.payee.handle}",
            raw=_raw(self.ctx, intent, payer.display_name),
        )

    def _reply(self, intent: PaymentIntent, event: str, text: str) -> None:
        if intent.source_network and intent.source_post_id:
            self.uow.notices.enqueue(
                kind="reply",
                network=intent.source_network,
                target=intent.source_post_id,
                text=text,
                dedupe_key=f"{intent.id}:{event}:reply",
                now=self.now,
            )

    def _dm(
        self, intent: PaymentIntent, network: str | None, user_id: str | None, event: str, text: str
    ) -> None:
        if network and user_id:
            self.uow.notices.enqueue(
                kind="dm",
                network=network,
                target=user_id,
                text=text,
                dedupe_key=f"{intent.id}:{event}:dm:{user_id}",
                now=self.now,
            )

    def _notify(self, member_id: str, code: str, raw: dict[str, Any], intent_id: str) -> None:
        self.uow.notices.notify(member_id, code, raw, intent_id=intent_id, now=self.now)

    def _announce(
        self,
        intent: PaymentIntent,
        event: str,
        *,
        locale: Locale,
        keys: tuple[str, str, str],
        dm_to: tuple[str | None, str | None],
        **args: Any,
    ) -> None:
        """The one network message of an event, shaped by the privacy mode."""
        public, discreet, private = keys
        raw = _raw(self.ctx, intent, "")
        if intent.privacy is Privacy.PUBLIC:
            self._reply(intent, event, _text(public, locale, raw, **args))
        elif intent.privacy is Privacy.DISCREET:
            self._reply(intent, event, _text(discreet, locale, raw, **args))
        else:
            self._dm(intent, dm_to[0], dm_to[1], event, _text(private, locale, raw, **args))

    # --- events ---------------------------------------------------------------

    def created(self, intent: PaymentIntent, payer: Member) -> None:
        """Ask the payer to confirm (for a request, the payer is the person asked)."""
        names = self._names(intent, payer)
        request = intent.kind is IntentKind.REQUEST
        key = "payment_requested" if request else "confirm_request"
        if intent.payee_warnings:
            # Never a friendly "to @bob" when @bob may be someone else now: send the payer
            # to the wallet, which says what is off before the PIN.
            key = "confirm_request_check"
        self._notify(payer.id, "asked_to_pay" if request else "to_confirm", names.raw, intent.id)
        self._announce(
            intent,
            "created",
            locale=payer.locale,
            keys=(key, f"{key}_discreet", key),
            dm_to=(intent.source_network, names.payer_user_id),
            payer=names.payer_handle,
            payee=names.payee_at,
        )

    def settled(self, intent: PaymentIntent, payer: Member, payee: Member | None) -> None:
        names = self._names(intent, payer)
        self._notify(payer.id, "sent", names.raw, intent.id)
        if payee is not None:
            self._notify(payee.id, "received", names.raw, intent.id)
        self._announce(
            intent,
            "settled",
            locale=payer.locale,
            keys=("settled", "settled_discreet", "sent"),
            dm_to=(intent.source_network, names.payer_user_id),
            payer=names.payer_at,
            payee=names.payee_at,
        )
        if intent.privacy is Privacy.PRIVATE and payee is not None:
            linked = self._linked(payee.id, intent.source_network)
            text = _text("received", payee.locale, names.raw, payer=names.payer_at)
            self._dm(
                intent,
                intent.source_network,
                linked.network_user_id if linked else None,
                "received",
                text,
            )

    def claimable(self, intent: PaymentIntent, payer: Member) -> None:
        """Tell someone without a wallet that money waits for them (they have no locale yet)."""
        names = self._names(intent, payer)
        self._notify(payer.id, "held_for_payee", names.raw, intent.id)
        self._announce(
            intent,
            "claimable",
            locale=self.ctx.settings.default_locale,
            keys=("claimable", "claimable_discreet", "claimable"),
            dm_to=(intent.payee.network, intent.payee.network_user_id),
            payer=names.payer_at,
            payee=intent.payee.handle,
            url=self.ctx.url("/"),
        )

    def claimed(self, intent: PaymentIntent, payer: Member, payee: Member) -> None:
        raw = {**_raw(self.ctx, intent, payer.display_name), "payee": payee.display_name}
        self._notify(payee.id, "claimed", raw, intent.id)
        self._notify(payer.id, "claimed_by_payee", raw, intent.id)

    def ended(self, intent: PaymentIntent, payer: Member, event: str) -> None:
        """``expired``, ``cancelled`` or ``refunded``: the payer learns nothing was taken."""
        names = self._names(intent, payer)
        self._notify(payer.id, event, names.raw, intent.id)
        if intent.requester_member_id and event != "refunded":
            # Whoever asked hears that the asked person did not pay, not about a payment.
            self._notify(intent.requester_member_id, f"request_{event}", names.raw, intent.id)
        if event != "cancelled":  # whoever cancelled knows already
            text = _text(event, payer.locale, names.raw, payee=names.payee_at)
            self._dm(intent, intent.source_network, names.payer_user_id, event, text)

    def refusal(
        self,
        post: InboundPost,
        error: EnvoiError,
        locale: Locale,
        *,
        private: bool,
        key: str | None = None,
    ) -> None:
        """One answer per refused command (or per ``key``), by DM when ``private``."""
        where = "/wallet/topup" if error.code is ErrorCode.INSUFFICIENT_FUNDS else "/"
        gateway = self.ctx.gateways.get(post.network)
        # The syntax shown names the bot as this network writes it.
        bot = gateway.bot_handle if gateway else self.ctx.settings.bot_handle
        text = render_error(error, locale, bot=bot, url=self.ctx.url(where))
        dedupe_key = key or f"post:{post.network}:{post.post_id}:refusal"
        if private:
            self.uow.notices.enqueue(
                kind="dm",
                network=post.network,
                target=post.author.user_id,
                text=text,
                dedupe_key=dedupe_key,
                now=self.now,
            )
        else:
            self.uow.notices.enqueue(
                kind="reply",
                network=post.network,
                target=post.post_id,
                text=f"@{post.author.handle} {text}",
                dedupe_key=dedupe_key,
                now=self.now,
            )
