"""The public JSON API, version 1: members, wallet, identities, intents, history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from envoi.bootstrap import Envoi
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import render
from envoi.domain.model import (
    Identity,
    IntentState,
    Locale,
    Member,
    MemberKind,
    PaymentIntent,
    Pot,
    Privacy,
    Topup,
)
from envoi.metrics import CONFIRM_SECONDS
from envoi.services.linking import instructions
from envoi.services.ports import CardDetails, CardToken

router = APIRouter(prefix="/api/v1")
_bearer = HTTPBearer(auto_error=False, description="The access_token from /api/v1/auth/token")


def get_envoi(request: Request) -> Envoi:
    envoi: Envoi = request.app.state.envoi
    return envoi


App = Annotated[Envoi, Depends(get_envoi)]


def client_address(request: Request) -> str | None:
    """The caller's address for the sign-in and sign-up throttles. Behind a proxy, set
    uvicorn's ``FORWARDED_ALLOW_IPS`` to the proxy's address so this is the client's."""
    return request.client.host if request.client else None


def current_member(
    request: Request,
    envoi: App,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Member:
    if credentials is None:
        raise EnvoiError(ErrorCode.UNAUTHENTICATED)
    member = envoi.members.authenticate(credentials.credentials)
    request.state.member = member  # errors are then answered in the member's language
    return member


Me = Annotated[Member, Depends(current_member)]


# --- bodies ----------------------------------------------------------------------


class NewMember(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(min_length=8, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)
    locale: Literal["fr", "en"] = "fr"


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=200)


class PinIn(BaseModel):
    pin: str = Field(max_length=20)
    # Required to change an existing PIN.
    current_password: str | None = Field(default=None, max_length=200)


class ProfileIn(BaseModel):
    privacy: Privacy | None = None
    locale: Literal["fr", "en"] | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=100)


class TopupIn(BaseModel):
    """A card top-up: ``payment_method``, the id Stripe.js (or a Stripe SDK) made of the
    card in the cardholder's device, or the card itself where the processor takes it
    (the sandbox). Exactly one of the two."""

    amount_minor: int = Field(strict=True, gt=0, le=10_000_000)
    payment_method: str | None = Field(default=None, pattern=r"^pm_[A-Za-z0-9_]{1,100}$")
    card_number: str | None = Field(default=None, min_length=12, max_length=30)
    exp_month: int | None = Field(default=None, ge=1, le=12)
    exp_year: int | None = Field(default=None, ge=2000, le=2100)
    cvc: str | None = Field(default=None, min_length=3, max_length=4)

    @model_validator(mode="after")
    def _one_card(self) -> TopupIn:
        card = (self.card_number, self.exp_month, self.exp_year, self.cvc)
        token = self.payment_method is not None
        if (token and any(v is not None for v in card)) or (
            not token and any(v is None for v in card)
        ):
            raise ValueError("either payment_method, or card_number, exp_month, exp_year, cvc")
        return self

    def card(self) -> CardDetails | CardToken:
        if self.payment_method is not None:
            return CardToken(self.payment_method)
        number, month, year, cvc = self.card_number, self.exp_month, self.exp_year, self.cvc
        assert number is not None
        assert month is not None
        assert year is not None
        assert cvc is not None
        return CardDetails(number, month, year, cvc)


class IdentityIn(BaseModel):
    network: str = Field(max_length=20)
    token: str = Field(min_length=1, max_length=500)


class OAuthStartIn(BaseModel):
    network: str = Field(max_length=20)


class OAuthFinishIn(BaseModel):
    network: str = Field(max_length=20)
    state: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=1000)


class ChallengeIn(BaseModel):
    network: str = Field(max_length=20)
    handle: str = Field(min_length=1, max_length=255)


class ConfirmIn(BaseModel):
    pin: str = Field(max_length=20)
    # What the payer saw; when given, the confirmation holds only if they still match.
    amount_minor: int | None = None
    payee: str | None = Field(default=None, max_length=100)


class PotIn(BaseModel):
    hashtag: str = Field(min_length=2, max_length=50)
    title: str = Field(min_length=1, max_length=200)
    goal_minor: int | None = Field(default=None, gt=0)
    # Contributions stop then; a campaign's deadline.
    closes_at: AwareDatetime | None = None
    # A crowdfunding campaign: pledges held until ``closes_at``, taken only if the goal is met.
    all_or_nothing: bool = False


# --- views -----------------------------------------------------------------------


def member_view(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "email": member.email,
        "display_name": member.display_name,
        "locale": member.locale,
        "privacy": member.privacy.value,
        "kind": member.kind.value,
        "verified": member.verified,
        "has_pin": member.has_pin,
    }


def identity_view(identity: Identity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "network": identity.network,
        "user_id": identity.network_user_id,  # immutable: what money follows
        "network_user_id": identity.network_user_id,  # the same, by its older name
        "handle": identity.handle,
        "display_name": identity.display_name,
        "linked_at": identity.linked_at.isoformat(),
    }


def payee_warnings(intent: PaymentIntent, locale: Locale, days: int) -> list[dict[str, str]]:
    """What the payer must read before the PIN, in their language (``PayeeWarning``)."""
    return [
        {
            "code": warning.value,
            "message": render(
                f"payee_warning.{warning.value}", locale, handle=intent.payee.handle, days=days
            ),
        }
        for warning in intent.payee_warnings
    ]


def intent_view(
    intent: PaymentIntent, reader: Member | None = None, days: int = 30
) -> dict[str, Any]:
    """``reader``: the member asking, for the language of the payee warnings."""
    return {
        "id": intent.id,
        "kind": intent.kind.value,
        "amount_minor": intent.amount.minor,
        "fee_minor": intent.fee.minor,
        "currency": intent.amount.currency,
        "payee": {
            "kind": intent.payee.kind.value,
            "network": intent.payee.network,
            "user_id": intent.payee.network_user_id,
            "handle": intent.payee.handle,
            "display_name": intent.payee.display_name,
        },
        "state": intent.state.value,
        "privacy": intent.privacy.value,
        "created_at": intent.created_at.isoformat(),
        "expires_at": intent.expires_at.isoformat(),
        "settled_at": _iso(intent.settled_at),
        "claim_expires_at": _iso(intent.claim_expires_at),
        "payee_warnings": payee_warnings(intent, reader.locale if reader else "en", days),
    }


def topup_view(topup: Topup) -> dict[str, Any]:
    return {
        "id": topup.id,
        "status": topup.status,
        "amount_minor": topup.amount.minor,
        "currency": topup.amount.currency,
        "last4": topup.last4,
        "decline_code": topup.decline_code,
        "action_url": topup.action_url,
    }


def pot_view(pot: Pot) -> dict[str, Any]:
    return {
        "id": pot.id,
        "hashtag": pot.hashtag,
        "title": pot.title,
        "goal_minor": pot.goal.minor if pot.goal else None,
        "closes_at": _iso(pot.closes_at),
        "closed_at": _iso(pot.closed_at),
        "all_or_nothing": pot.all_or_nothing,
        "outcome": pot.outcome,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- routes ----------------------------------------------------------------------


@router.post("/members", status_code=201, tags=["members"])
def create_member(body: NewMember, envoi: App, request: Request) -> dict[str, Any]:
    member = envoi.members.register(
        client=client_address(request),
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        locale=body.locale,
        kind=MemberKind.PERSON,
    )
    return member_view(member)


@router.post("/auth/token", tags=["members"])
def create_token(body: Credentials, envoi: App, request: Request) -> dict[str, str]:
    token = envoi.members.issue_token(body.email, body.password, client=client_address(request))
    return {"access_token": token, "token_type": "bearer"}


@router.delete("/auth/token", status_code=204, tags=["members"])
def revoke_token(
    member: Me,
    envoi: App,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Sign out: this bearer token stops working now."""
    assert credentials is not None  # Me already required it
    envoi.members.revoke_token(credentials.credentials)
    del member


@router.get("/me", tags=["members"])
def me(member: Me) -> dict[str, Any]:
    return member_view(member)


@router.patch("/me", tags=["members"])
def update_me(body: ProfileIn, member: Me, envoi: App) -> dict[str, Any]:
    updated = envoi.members.update_profile(
        member.id, privacy=body.privacy, locale=body.locale, display_name=body.display_name
    )
    return member_view(updated)


@router.put("/me/pin", status_code=204, tags=["members"])
def set_pin(body: PinIn, member: Me, envoi: App) -> None:
    envoi.members.set_pin(member.id, body.pin, current_password=body.current_password)


@router.get("/me/wallet", tags=["wallet"])
def wallet(member: Me, envoi: App) -> dict[str, Any]:
    balance = envoi.wallet.balance(member.id)
    return {
        "currency": balance.currency,
        "balance_minor": balance.posted,
        "available_minor": balance.available,
        "pending_out_minor": balance.debits_pending,
    }


@router.post("/me/topups", status_code=201, tags=["wallet"])
def top_up(
    body: TopupIn,
    member: Me,
    envoi: App,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    topup = envoi.funding.top_up(
        member.id, body.amount_minor, body.card(), request_key=idempotency_key
    )
    return topup_view(topup)


@router.get("/me/topups/{topup_id}", tags=["wallet"])
def get_topup(topup_id: str, member: Me, envoi: App) -> dict[str, Any]:
    return topup_view(envoi.funding.get(member.id, topup_id))


@router.post("/me/identities", status_code=201, tags=["identities"])
def link_identity(body: IdentityIn, member: Me, envoi: App) -> dict[str, Any]:
    return identity_view(envoi.members.link_identity(member.id, body.network, body.token))


@router.post("/me/identities/challenges", status_code=201, tags=["identities"])
def identity_challenge(body: ChallengeIn, member: Me, envoi: App) -> dict[str, Any]:
    """Prove you hold a network account: send the bot the returned code from it."""
    issued = envoi.linking.start(member.id, body.network, body.handle)
    return {
        "id": issued.challenge.id,
        "network": issued.challenge.network,
        "handle": issued.challenge.handle,
        "user_id": issued.challenge.network_user_id,
        "code": issued.code,
        "expires_at": issued.challenge.expires_at.isoformat(),
        "instructions": instructions(issued, body.network, member.locale),
    }


@router.post("/me/identities/oauth", status_code=201, tags=["identities"])
def identity_oauth_start(body: OAuthStartIn, member: Me, envoi: App) -> dict[str, str]:
    """Link by the network's consent page (OAuth 2.0 Authorization Code + PKCE): open
    ``authorization_url``; the network sends the browser back to ``redirect_uri`` with
    ``state`` and ``code``, which ``/me/identities/oauth/callback`` takes."""
    return {
        "authorization_url": envoi.oauth_links.start(member.id, body.network),
        "redirect_uri": envoi.oauth_links.redirect_uri(body.network),
    }


@router.post("/me/identities/oauth/callback", status_code=201, tags=["identities"])
def identity_oauth_finish(body: OAuthFinishIn, member: Me, envoi: App) -> dict[str, Any]:
    identity = envoi.oauth_links.finish(member.id, body.network, body.state, body.code)
    return identity_view(identity)


@router.get("/me/identities", tags=["identities"])
def identities(member: Me, envoi: App) -> list[dict[str, Any]]:
    return [identity_view(i) for i in envoi.members.identities(member.id)]


@router.get("/me/intents", tags=["payments"])
def intents(
    member: Me, envoi: App, state: Annotated[IntentState | None, Query()] = None
) -> list[dict[str, Any]]:
    if state is IntentState.AWAITING_CONFIRMATION:
        found = envoi.wallet.to_confirm(member.id)  # only what this member must confirm
    else:
        found = envoi.wallet.intents(member.id, state)
    return [intent_view(i, member, envoi.settings.new_account_days) for i in found]


@router.get("/me/intents/{intent_id}", tags=["payments"])
def intent(intent_id: str, member: Me, envoi: App) -> dict[str, Any]:
    found = envoi.wallet.intent(member.id, intent_id)
    if found is None:
        raise EnvoiError(ErrorCode.INTENT_NOT_FOUND)
    return intent_view(found, member, envoi.settings.new_account_days)


@router.post("/me/intents/{intent_id}/confirm", tags=["payments"])
def confirm(intent_id: str, body: ConfirmIn, member: Me, envoi: App) -> dict[str, Any]:
    with CONFIRM_SECONDS.time():
        confirmed = envoi.lifecycle.confirm(
            member.id,
            intent_id,
            body.pin,
            expected_amount_minor=body.amount_minor,
            expected_payee=body.payee,
        )
    return intent_view(confirmed, member, envoi.settings.new_account_days)


@router.post("/me/intents/{intent_id}/cancel", tags=["payments"])
def cancel(intent_id: str, member: Me, envoi: App) -> dict[str, Any]:
    cancelled = envoi.lifecycle.cancel(member.id, intent_id)
    return intent_view(cancelled, member, envoi.settings.new_account_days)


@router.get("/me/history", tags=["wallet"])
def history(member: Me, envoi: App) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "type": m.type,
            "kind": m.kind,
            "direction": m.direction,
            "amount_minor": m.amount_minor,
            "fee_minor": m.fee_minor,
            "currency": m.currency,
            "counterparty": {"handle": m.counterparty_handle, "display_name": m.counterparty_name},
            "state": m.state,
            "at": m.at.isoformat(),
        }
        for m in envoi.wallet.history(member.id)
    ]


@router.get("/me/notifications", tags=["wallet"])
def notifications(member: Me, envoi: App) -> list[dict[str, Any]]:
    return [
        {
            "id": n["id"],
            "code": n["code"],
            "text": n["text"],
            "intent_id": n["intent_id"],
            "created_at": _iso(n["created_at"]),
            "read": n["read"],
        }
        for n in envoi.wallet.notifications(member.id)
    ]


@router.post("/me/pots", status_code=201, tags=["pots"])
def create_pot(body: PotIn, member: Me, envoi: App) -> dict[str, Any]:
    pot = envoi.members.create_pot(
        member.id,
        hashtag=body.hashtag,
        title=body.title,
        goal_minor=body.goal_minor,
        closes_at=body.closes_at,
        all_or_nothing=body.all_or_nothing,
    )
    return pot_view(pot)
