"""Tell people what happened, never more than the privacy mode allows.

In-app notifications always; on the network: a public reply with amount and
payee (``public``), a public reply without them (``discreet``), or direct
messages only (``private``, and every command that came by DM). All of it is
written in the same transaction as the state change (outbox rows).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from envoi.domain.errors import EnvoiError
from envoi.domain.messages import render, render_error
from envoi.domain.model import (
    IntentKind,
    Locale,
    Member,
    PayeeKind,
    PaymentIntent,
    Privacy,
)
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
    from envoi.money import Money

    amount = Money(int(raw["amount_minor"]), str(raw["currency"])).format(locale)
    return render(key, locale, **{**raw, "amount": amount, **overrides})


def render_notification(code: str, params: dict[str, Any], locale: Locale) -> str:
    if "amount_minor" in params:
        return _text(code, locale, params)
    return render(code, locale, **params)


class Announcer:
    def __init__(self, ctx: Context, uow: UnitOfWork, now: datetime) -> None:
        self.ctx, self.uow, self.now = ctx, uow, now

    # --- building blocks ------------------------------------------------------

    def _handle(self, member_id: str, network: str | None) -> tuple[str, str] | None:
        """(user id, handle) of the member on that network, if linked."""
        if network is None:
            return None
        identity = self.uow.identities.first_of_member(member_id, network)
        return (identity.network_user_id, identity.handle) if identity else None

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
        self, network: str | None, user_id: str | None, event: str, key: str, text: str
    ) -> None:
        if network and user_id:
            self.uow.notices.enqueue(
                kind="dm",
                network=network,
                target=user_id,
                text=text,
                dedupe_key=f"{key}:{event}:dm:{user_id}",
                now=self.now,
            )

    def _notify(self, member_id: str, code: str, raw: dict[str, Any], intent_id: str) -> None:
        self.uow.notices.notify(member_id, code, raw, intent_id=intent_id, now=self.now)

    def _names(self, intent: PaymentIntent, payer: Member) -> tuple[str, str, dict[str, Any]]:
        """Handles as shown on the network (``@alice``) and the raw in-app parameters."""
        linked = self._handle(payer.id, intent.source_network)
        payer_at = f"@{linked[1]}" if linked else payer.display_name
        payee_at = (
            f"#{intent.payee.handle}"
            if intent.payee.kind is PayeeKind.POT
            else f"@{intent.payee.handle}"
        )
        return payer_at, payee_at, _raw(self.ctx, intent, payer.display_name)

    # --- events ---------------------------------------------------------------

    def created(self, intent: PaymentIntent, payer: Member) -> None:
        payer_at, payee_at, raw = self._names(intent, payer)
        request = intent.kind is IntentKind.REQUEST
        key = "payment_requested" if request else "confirm_request"
        # For a request the one who confirms is the asked person; the "payee" is who asked.
        self._notify(payer.id, key, raw, intent.id)
        linked = self._handle(payer.id, intent.source_network)
        payer_handle = linked[1] if linked else payer.display_name
        text_args = {"payer": payer_handle, "payee": payee_at}
        if intent.privacy is Privacy.PUBLIC:
            self._reply(intent, "created", _text(key, payer.locale, raw, **text_args))
        elif intent.privacy is Privacy.DISCREET:
            self._reply(intent, "created", _text(f"{key}_discreet", payer.locale, raw, **text_args))
        else:
            self._dm(
                intent.source_network,
                linked[0] if linked else None,
                "created",
                intent.id,
                _text(key, payer.locale, raw, **text_args),
            )
        del payer_at

    def settled(self, intent: PaymentIntent, payer: Member, payee: Member | None) -> None:
        payer_at, payee_at, raw = self._names(intent, payer)
        self._notify(payer.id, "sent", raw, intent.id)
        if payee is not None:
            self._notify(payee.id, "received", raw, intent.id)
        if intent.privacy is Privacy.PUBLIC:
            text = _text("settled", payer.locale, raw, payer=payer_at, payee=payee_at)
            self._reply(intent, "settled", text)
        elif intent.privacy is Privacy.DISCREET:
            self._reply(intent, "settled", _text("settled_discreet", payer.locale, raw))
        else:
            linked = self._handle(payer.id, intent.source_network)
            self._dm(
                intent.source_network,
                linked[0] if linked else None,
                "settled",
                intent.id,
                _text("sent", payer.locale, raw, payee=payee_at),
            )
            if payee is not None:
                payee_linked = self._handle(payee.id, intent.source_network)
                self._dm(
                    intent.source_network,
                    payee_linked[0] if payee_linked else None,
                    "settled",
                    intent.id,
                    _text("received", payee.locale, raw, payer=payer_at),
                )

    def claimable(self, intent: PaymentIntent, payer: Member) -> None:
        payer_at, payee_at, raw = self._names(intent, payer)
        self._notify(payer.id, "held_for_payee", raw, intent.id)
        locale = self.ctx.settings.default_locale
        args = {"payer": payer_at, "payee": intent.payee.handle, "url": self.ctx.url("/")}
        if intent.privacy is Privacy.PUBLIC:
            self._reply(intent, "claimable", _text("claimable", locale, raw, **args))
        elif intent.privacy is Privacy.DISCREET:
            self._reply(intent, "claimable", _text("claimable_discreet", locale, raw, **args))
        else:
            self._dm(
                intent.payee.network,
                intent.payee.network_user_id,
                "claimable",
                intent.id,
                _text("claimable", locale, raw, **args),
            )
        del payee_at

    def claimed(self, intent: PaymentIntent, payer: Member, payee: Member) -> None:
        raw = _raw(self.ctx, intent, payer.display_name)
        raw["payee"] = payee.display_name
        self._notify(payee.id, "claimed", raw, intent.id)
        self._notify(payer.id, "claimed_by_payee", raw, intent.id)

    def ended(self, intent: PaymentIntent, payer: Member, event: str) -> None:
        """``expired``, ``cancelled`` or ``refunded``: the payer learns nothing was taken."""
        payer_at, payee_at, raw = self._names(intent, payer)
        self._notify(payer.id, event, raw, intent.id)
        if intent.requester_member_id and event != "refunded":
            self._notify(intent.requester_member_id, event, raw, intent.id)
        if event != "cancelled":
            linked = self._handle(payer.id, intent.source_network)
            self._dm(
                intent.source_network,
                linked[0] if linked else None,
                event,
                intent.id,
                _text(event, payer.locale, raw, payee=payee_at),
            )
        del payer_at

    def refusal(self, post: InboundPost, error: EnvoiError, locale: Locale) -> None:
        """One answer per refused command, privately when it came privately."""
        text = render_error(
            error,
            locale,
            bot=self.ctx.settings.bot_handle,
            url=self.ctx.url("/"),
        )
        if post.direct:
            self.uow.notices.enqueue(
                kind="dm",
                network=post.network,
                target=post.author.user_id,
                text=text,
                dedupe_key=f"post:{post.network}:{post.post_id}:refusal",
                now=self.now,
            )
        else:
            self.uow.notices.enqueue(
                kind="reply",
                network=post.network,
                target=post.post_id,
                text=f"@{post.author.handle} {text}",
                dedupe_key=f"post:{post.network}:{post.post_id}:refusal",
                now=self.now,
            )
