"""Members: sign-up, sign-in, PIN, preferences, linked network identities, pots."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import Identity, Locale, Member, MemberKind, Organisation, Pot, Privacy
from envoi.domain.names import name_problem, normalise_email
from envoi.ledger.model import Account, AccountFlags, CreateAccountResult
from envoi.money import Money
from envoi.services.context import Context
from envoi.services.lifecycle import Lifecycle
from envoi.services.ports import NetworkUser
from envoi.services.secrets import (
    check_new_pin,
    check_pin_format,
    hash_password,
    hash_pin,
    new_id,
    new_token,
    token_digest,
    verify_password,
)
from envoi.services.throttle import SignInThrottle
from envoi.services.unit_of_work import retry_conflicts

log = structlog.get_logger(__name__)

HASHTAG_FORMAT = re.compile(r"[A-Za-z0-9_]{2,50}")
# A pot's closing date (a campaign's deadline) is at most this far ahead.
MAX_POT_DURATION = timedelta(days=366)
# A fixed hash to verify against when the e-mail is unknown, so timing does not tell.
_DUMMY_HASH = hash_password("envoi-timing-equaliser")


def clean_display_name(name: str, max_length: int = 100) -> str:
    """Names are shown to other people, payers first: no invisible characters and no
    mixed scripts that could disguise them (``envoi.domain.names``)."""
    name = unicodedata.normalize("NFC", name.strip())
    if not 1 <= len(name) <= max_length:
        raise EnvoiError(ErrorCode.INVALID_DISPLAY_NAME)
    problem = name_problem(name)
    if problem is not None:
        raise EnvoiError(ErrorCode.INVALID_DISPLAY_NAME, problem=problem)
    return name


def _sign_in_email(email: str) -> str:
    """The stored form of what was typed at sign-in; an address refused at sign-up today
    is still looked up as typed (it may predate the rule, and it cannot match another)."""
    try:
        return normalise_email(email)
    except EnvoiError:
        return email.strip().lower()


class Members:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @retry_conflicts
    def register(
        self,
        *,
        email: str,
        password: str,
        display_name: str,
        locale: Locale,
        kind: MemberKind = MemberKind.PERSON,
        verified: bool = False,
        privacy: Privacy | None = None,
        client: str | None = None,
        legal_name: str | None = None,
        registry_id: str | None = None,
        organisation: Organisation | None = None,
    ) -> Member:
        """A new member; their privacy is the operator's default (ENVOI_DEFAULT_PRIVACY,
        "discreet" unless set) until they choose. ``client``: the caller's address, counted
        by the sign-up throttle (None for the operator's own tools: demo, CLI)."""
        email = normalise_email(email)
        if len(password) < 8:
            raise EnvoiError(ErrorCode.VALIDATION_ERROR, reason="password (8+)")
        display_name = clean_display_name(display_name)
        # Counted before the e-mail is looked at, so EMAIL_TAKEN cannot be asked for
        # more than a few addresses an hour.
        SignInThrottle(self.ctx).count_signup(client)
        member_id = new_id("mem")
        password_hash = hash_password(password)
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            if not uow.members.add(
                member_id=member_id,
                email=email,
                password_hash=password_hash,
                display_name=display_name,
                locale=locale,
                kind=kind,
                verified=verified,
                privacy=privacy or Privacy(self.ctx.settings.default_privacy),
                now=now,
            ):
                raise EnvoiError(ErrorCode.EMAIL_TAKEN)
            wallet = Account(
                accounts.wallet(member_id),
                self.ctx.settings.currency,
                "wallet",
                AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            )
            if kind is MemberKind.ORGANISATION and organisation is not None:
                uow.members.set_organisation(replace(organisation, member_id=member_id))
            elif kind is MemberKind.ORGANISATION and legal_name:
                uow.members.set_organisation(Organisation(member_id, legal_name, registry_id))
            (result,) = uow.ledger.create_accounts([wallet])
            assert result is CreateAccountResult.OK, result
            uow.audit.record("member.registered", member_id, email=email, client=client)
            member = uow.members.get(member_id)
            assert member is not None
            uow.commit()
        log.info("member.registered", member_id=member_id)
        return member

    @retry_conflicts
    def issue_token(self, email: str, password: str, *, client: str | None = None) -> str:
        """A new API token for the right password; throttled per e-mail and per ``client``
        address (``services/throttle.py``)."""
        email = _sign_in_email(email)
        throttle = SignInThrottle(self.ctx)
        keys = throttle.keys(email, client)
        now = self.ctx.clock.now()
        # The audit trail keeps the e-mail as typed and the address, never the password.
        seen = {"email": email[:320], "client": client}
        with self.ctx.uow() as uow:
            try:
                throttle.check(uow, keys, now)
            except EnvoiError as refused:
                uow.audit.record("signin.throttled", None, **seen, **refused.params)
                uow.commit()
                raise
            found = uow.members.credentials(email)
            if found is None:
                verify_password(_DUMMY_HASH, password)
            if found is None or not verify_password(found[1], password):
                throttle.failed(uow, keys, now)
                uow.audit.record("signin.failed", found[0] if found else None, **seen)
                uow.commit()
                raise EnvoiError(ErrorCode.INVALID_CREDENTIALS)
            throttle.succeeded(uow, keys)
            uow.audit.record("signin.ok", found[0], **seen)
            token = new_token()
            expires = now + timedelta(seconds=self.ctx.settings.token_ttl_s)
            uow.members.add_token(token_digest(token), found[0], now, expires)
            uow.commit()
        return token

    @retry_conflicts
    def revoke_token(self, token: str) -> None:
        """Sign out: the token stops working at once, not when it would have expired."""
        with self.ctx.uow() as uow:
            uow.members.revoke_token(token_digest(token))
            uow.commit()

    def authenticate(self, token: str) -> Member:
        with self.ctx.uow() as uow:
            member = uow.members.member_for_token(token_digest(token), self.ctx.clock.now())
        if member is None:
            raise EnvoiError(ErrorCode.UNAUTHENTICATED)
        return member

    def get(self, member_id: str) -> Member:
        with self.ctx.uow() as uow:
            member = uow.members.get(member_id)
        if member is None:
            raise EnvoiError(ErrorCode.NOT_FOUND)
        return member

    @retry_conflicts
    def set_pin(
        self,
        member_id: str,
        pin: str,
        *,
        current_password: str | None = None,
        obvious_allowed: bool = False,
    ) -> None:
        """Choose the PIN; changing it takes the password too, so a stolen session alone
        cannot set a PIN it knows. A lockout in force stays in force. Obvious PINs (0000,
        1234…) are refused; ``obvious_allowed`` exists for the demo story's published PIN."""
        if obvious_allowed:
            check_pin_format(pin)
        else:
            check_new_pin(pin)
        with self.ctx.uow() as uow:
            stored, _failures, _locked = uow.members.pin_state(member_id)
            if stored is not None:
                if not current_password:
                    raise EnvoiError(ErrorCode.PASSWORD_REQUIRED)
                password_hash = uow.members.password_hash(member_id)
                if password_hash is None or not verify_password(password_hash, current_password):
                    raise EnvoiError(ErrorCode.INVALID_CREDENTIALS)
            uow.members.set_pin(member_id, hash_pin(self.ctx.pin_key, member_id, pin))
            if stored is not None:
                uow.notices.notify(
                    member_id, "pin_changed", {}, intent_id=None, now=self.ctx.clock.now()
                )
            uow.commit()

    @retry_conflicts
    def update_profile(
        self,
        member_id: str,
        *,
        privacy: Privacy | None = None,
        locale: Locale | None = None,
        display_name: str | None = None,
    ) -> Member:
        if display_name is not None:
            display_name = clean_display_name(display_name)
        with self.ctx.uow() as uow:
            uow.members.update_profile(
                member_id, privacy=privacy, locale=locale, display_name=display_name
            )
            member = uow.members.get(member_id)
            assert member is not None
            uow.commit()
        return member

    def link_identity(self, member_id: str, network: str, token: str) -> Identity:
        """Prove ownership on the network (its OAuth flow), then link; claim what was waiting."""
        # Once: a proof (an OAuth code) may be single-use; only the transaction is retried.
        user = self.ctx.gateway(network).verify_link(token)
        return self._link(member_id, network, user)

    def link_user(self, member_id: str, network: str, user: NetworkUser) -> Identity:
        """Link an account the operator vouches for (an organisation's), without a proof
        from the network; claims what was waiting for it, like any link."""
        return self._link(member_id, network, user)

    @retry_conflicts
    def _link(self, member_id: str, network: str, user: NetworkUser) -> Identity:
        now = self.ctx.clock.now()
        identity = Identity(
            id=new_id("idn"),
            member_id=member_id,
            network=network,
            network_user_id=user.user_id,
            handle=user.handle,
            display_name=user.display_name,
            linked_at=now,
        )
        with self.ctx.uow() as uow:
            if not uow.identities.add(identity):
                raise EnvoiError(ErrorCode.IDENTITY_ALREADY_LINKED)
            member = uow.members.get(member_id)
            assert member is not None
            claimed = Lifecycle(self.ctx).claim_for(uow, member, network, user.user_id)
            uow.commit()
        log.info("identity.linked", member_id=member_id, network=network, claimed=claimed)
        return identity

    def identities(self, member_id: str) -> list[Identity]:
        with self.ctx.uow() as uow:
            return uow.identities.of_member(member_id)

    @retry_conflicts
    def create_pot(
        self,
        member_id: str,
        *,
        hashtag: str,
        title: str,
        goal_minor: int | None,
        closes_at: datetime | None = None,
        all_or_nothing: bool = False,
    ) -> Pot:
        """A pot; with ``all_or_nothing`` a crowdfunding campaign, which needs a goal and
        a closing date (its deadline)."""
        tag = hashtag.lstrip("#")
        if not HASHTAG_FORMAT.fullmatch(tag) or tag.isdigit():
            raise EnvoiError(ErrorCode.INVALID_HASHTAG)
        now = self.ctx.clock.now()
        if (closes_at is not None and not now < closes_at <= now + MAX_POT_DURATION) or (
            all_or_nothing and closes_at is None
        ):
            raise EnvoiError(ErrorCode.INVALID_CLOSING_DATE)
        if all_or_nothing and goal_minor is None:
            raise EnvoiError(ErrorCode.VALIDATION_ERROR, reason="goal")
        if goal_minor is not None and not 0 < goal_minor <= self.ctx.settings.amount_ceiling_minor:
            raise EnvoiError(
                ErrorCode.AMOUNT_OUT_OF_RANGE,
                min_minor=1,
                max_minor=self.ctx.settings.amount_ceiling_minor,
            )
        currency = self.ctx.settings.currency
        pot = Pot(
            id=new_id("pot"),
            hashtag=tag.lower(),
            title=clean_display_name(title, max_length=200) if title.strip() else tag,
            owner_member_id=member_id,
            goal=Money(goal_minor, currency) if goal_minor else None,
            created_at=now,
            closes_at=closes_at,
            all_or_nothing=all_or_nothing,
        )
        with self.ctx.uow() as uow:
            if not uow.pots.add(pot, currency):
                raise EnvoiError(ErrorCode.HASHTAG_TAKEN, hashtag=tag)
            uow.ledger.create_accounts(
                [
                    Account(
                        accounts.pot(pot.id),
                        currency,
                        "pot",
                        AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                    )
                ]
            )
            uow.commit()
        return pot
