"""Organisations: registered by the operator or by a member (then unverified until the
operator checks it), their legal identity, network accounts and public page.

Donations go to verified organisations only (``Intake`` refuses the others with
``ORGANISATION_NOT_VERIFIED``); the operator's actions are in the audit trail.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import structlog

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.legal_ids import check_bic, check_iban, check_registry_id
from envoi.domain.model import Identity, Locale, Member, MemberKind, Organisation, Privacy
from envoi.domain.receipts import DonationSeen
from envoi.services.context import Context
from envoi.services.members import Members, clean_display_name
from envoi.services.unit_of_work import retry_conflicts

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OrganisationForm:
    """What is asked to register an organisation; checked by ``checked``."""

    display_name: str
    legal_name: str
    registry_id: str
    address: str
    purpose: str = ""
    tax_receipts: bool = False
    iban: str | None = None
    bic: str | None = None

    def checked(self, member_id: str = "", created_by: str | None = None) -> Organisation:
        kind, registry = check_registry_id(self.registry_id)
        address = self.address.strip()
        if not 5 <= len(address) <= 500:
            raise EnvoiError(ErrorCode.VALIDATION_ERROR, reason="address")
        return Organisation(
            member_id=member_id,
            legal_name=clean_display_name(self.legal_name, max_length=200),
            registry_id=registry,
            registry_kind=kind,
            address=address,
            purpose=self.purpose.strip()[:1000],
            tax_receipts=self.tax_receipts,
            iban=check_iban(self.iban) if self.iban else None,
            bic=check_bic(self.bic) if self.bic else None,
            created_by=created_by,
        )


@dataclass(frozen=True)
class OrganisationPage:
    member: Member
    organisation: Organisation
    donations: list[DonationSeen]
    handles: list[Identity]


class Organisations:
    def __init__(self, ctx: Context, members: Members) -> None:
        self.ctx = ctx
        self.members = members

    def register(
        self,
        form: OrganisationForm,
        *,
        email: str,
        password: str | None,
        locale: Locale = "fr",
        created_by: str | None = None,
        verify: bool = False,
        client: str | None = None,
    ) -> tuple[Member, str | None]:
        """A new organisation account, unverified unless the operator verifies it here.
        Returns the member and, when none was given, the password made for it (shown once)."""
        org = form.checked(created_by=created_by)
        made = None
        if password is None:
            made = password = secrets.token_urlsafe(18)
        member = self.members.register(
            email=email,
            password=password,
            display_name=form.display_name,
            locale=locale,
            kind=MemberKind.ORGANISATION,
            verified=False,
            # It collects in public: the donor's own privacy decides each donation's.
            privacy=Privacy.PUBLIC,
            client=client,
            organisation=org,
        )
        if verify:
            member = self.verify(member.id, operator="cli")
        log.info("organisation.registered", member_id=member.id, by=created_by or "operator")
        return member, made

    @retry_conflicts
    def verify(self, member_id: str, *, operator: str) -> Member:
        """The operator checked the papers: the badge, and donations may come in."""
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            org = uow.members.organisation(member_id)
            if org is None:
                raise EnvoiError(ErrorCode.NOT_AN_ORGANISATION)
            uow.organisations.set_verified(member_id, now)
            uow.audit.record("organisation.verified", member_id, operator=operator)
            member = uow.members.get(member_id)
            assert member is not None
            uow.commit()
        return member

    @retry_conflicts
    def update(self, member_id: str, form: OrganisationForm, *, operator: str) -> Organisation:
        """New legal details; an organisation changed by anyone but the operator would
        lose its badge, so only the operator calls this."""
        with self.ctx.uow() as uow:
            current = uow.members.organisation(member_id)
            if current is None:
                raise EnvoiError(ErrorCode.NOT_AN_ORGANISATION)
            org = replace(
                form.checked(member_id, current.created_by), verified_at=current.verified_at
            )
            uow.organisations.update(org)
            uow.audit.record("organisation.updated", member_id, operator=operator)
            uow.commit()
        return org

    def link(self, member_id: str, network: str, handle: str) -> Identity:
        """The operator vouches that this network account is the organisation's."""
        self.get(member_id)
        user = self.ctx.gateway(network).lookup_user(handle.lstrip("@"))
        if user is None:
            raise EnvoiError(ErrorCode.NETWORK_USER_NOT_FOUND, handle=handle)
        return self.members.link_user(member_id, network, user)

    def get(self, member_id: str) -> tuple[Member, Organisation]:
        with self.ctx.uow() as uow:
            member = uow.members.get(member_id)
            org = uow.members.organisation(member_id)
        if member is None or org is None or member.kind is not MemberKind.ORGANISATION:
            raise EnvoiError(ErrorCode.NOT_AN_ORGANISATION)
        return member, org

    def listing(self, *, verified: bool | None = None) -> list[tuple[Member, Organisation]]:
        with self.ctx.uow() as uow:
            return uow.organisations.listing(verified=verified)

    def page(self, member_id: str, *, limit: int = 20) -> OrganisationPage:
        """What anyone may see: name, badge, purpose, recent donations (names only of
        donors who chose to appear, amounts only of public ones)."""
        member, org = self.get(member_id)
        with self.ctx.uow() as uow:
            donations = uow.donations.recent_public(member_id, limit=limit)
            handles = uow.identities.of_member(member_id)
        return OrganisationPage(member, org, donations, handles)
