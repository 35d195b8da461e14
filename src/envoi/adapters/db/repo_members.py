"""Members, API tokens, linked identities and pots."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, func, select, update

from envoi.adapters.db.audit import AuditBuffer
from envoi.adapters.db.profile_tables import organisations
from envoi.adapters.db.rows import aware, insert_once, utc
from envoi.adapters.db.tables import (
    api_tokens,
    claim_locks,
    identities,
    members,
    payment_intents,
    pot_choices,
    pots,
)
from envoi.domain.model import (
    Identity,
    Member,
    MemberKind,
    Organisation,
    Pot,
    PotContribution,
    Privacy,
)
from envoi.money import Money


def _member(row: RowMapping) -> Member:
    created = aware(row["created_at"])
    assert created is not None
    return Member(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        locale="en" if row["locale"] == "en" else "fr",
        privacy=Privacy(row["privacy"]),
        kind=MemberKind(row["kind"]),
        verified=bool(row["verified"]),
        has_pin=row["pin_hash"] is not None,
        created_at=created,
    )


def organisation_row(org: Organisation) -> dict[str, Any]:
    return {
        "member_id": org.member_id,
        "legal_name": org.legal_name,
        "registry_id": org.registry_id,
        "registry_kind": org.registry_kind,
        "address": org.address,
        "purpose": org.purpose,
        "tax_receipts": org.tax_receipts,
        "iban": org.iban,
        "bic": org.bic,
        "created_by": org.created_by,
        "verified_at": utc(org.verified_at) if org.verified_at else None,
    }


def organisation_from(row: RowMapping) -> Organisation:
    return Organisation(
        member_id=row["member_id"],
        legal_name=row["legal_name"],
        registry_id=row["registry_id"],
        registry_kind=row["registry_kind"],
        address=row["address"],
        purpose=row["purpose"],
        tax_receipts=bool(row["tax_receipts"]),
        iban=row["iban"],
        bic=row["bic"],
        created_by=row["created_by"],
        verified_at=aware(row["verified_at"]),
    )


def member_from(row: RowMapping) -> Member:
    return _member(row)


def _identity(row: RowMapping) -> Identity:
    linked = aware(row["linked_at"])
    assert linked is not None
    return Identity(
        id=row["id"],
        member_id=row["member_id"],
        network=row["network"],
        network_user_id=row["network_user_id"],
        handle=row["handle"],
        display_name=row["display_name"],
        linked_at=linked,
    )


def _pot(row: RowMapping) -> Pot:
    created = aware(row["created_at"])
    assert created is not None
    goal = row["goal_minor"]
    return Pot(
        id=row["id"],
        hashtag=row["hashtag"],
        title=row["title"],
        owner_member_id=row["owner_member_id"],
        goal=Money(goal, row["currency"]) if goal is not None else None,
        created_at=created,
        closes_at=aware(row["closes_at"]),
        closed_at=aware(row["closed_at"]),
        all_or_nothing=bool(row["all_or_nothing"]),
        outcome=row["outcome"],
    )


class SqlMembers:
    def __init__(self, conn: Connection, audit: AuditBuffer | None = None) -> None:
        self.conn = conn
        self.audit = audit or AuditBuffer(lambda: datetime.now(UTC))

    def add(
        self,
        *,
        member_id: str,
        email: str,
        password_hash: str,
        display_name: str,
        locale: str,
        kind: MemberKind,
        verified: bool,
        privacy: Privacy,
        now: datetime,
    ) -> bool:
        # The e-mail is unique: a taken one makes this insert do nothing.
        return insert_once(
            self.conn,
            members,
            {
                "id": member_id,
                "email": email,
                "password_hash": password_hash,
                "display_name": display_name,
                "locale": locale,
                "kind": kind.value,
                "verified": verified,
                "privacy": privacy.value,
                "created_at": utc(now),
            },
        )

    def get(self, member_id: str) -> Member | None:
        row = self.conn.execute(select(members).where(members.c.id == member_id)).mappings().first()
        return _member(row) if row else None

    def set_organisation(self, org: Organisation) -> None:
        insert_once(self.conn, organisations, organisation_row(org))

    def organisation(self, member_id: str) -> Organisation | None:
        row = (
            self.conn.execute(select(organisations).where(organisations.c.member_id == member_id))
            .mappings()
            .first()
        )
        return organisation_from(row) if row else None

    def by_email(self, email: str) -> Member | None:
        row = self.conn.execute(select(members).where(members.c.email == email)).mappings().first()
        return _member(row) if row else None

    def credentials(self, email: str) -> tuple[str, str] | None:
        row = self.conn.execute(
            select(members.c.id, members.c.password_hash).where(members.c.email == email)
        ).first()
        return (row[0], row[1]) if row else None

    def lock(self, member_id: str) -> None:
        # PostgreSQL: one member's limit checks, holds and top-ups run one at a time.
        # FOR NO KEY UPDATE, not FOR UPDATE: rows that merely reference the member
        # (a notification, a top-up) take FOR KEY SHARE for their foreign key, and must
        # not wait behind this lock while we wait behind them (a deadlock otherwise).
        # SQLite's BEGIN IMMEDIATE already serialises every writer.
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                select(members.c.id)
                .where(members.c.id == member_id)
                .with_for_update(key_share=True)
            )

    def pin_state(self, member_id: str) -> tuple[str | None, int, datetime | None]:
        row = self.conn.execute(
            select(members.c.pin_hash, members.c.pin_failures, members.c.pin_locked_until).where(
                members.c.id == member_id
            )
        ).one()
        return row[0], int(row[1]), aware(row[2])

    def set_pin(self, member_id: str, pin_hash: str) -> None:
        # A new PIN leaves any lockout and failure count as they are.
        self.conn.execute(
            update(members).where(members.c.id == member_id).values(pin_hash=pin_hash)
        )
        self.audit.record("pin.set", member_id)

    def record_pin_failure(self, member_id: str) -> int:
        # One atomic increment: concurrent wrong PINs cannot overwrite each other's count.
        failures = self.conn.execute(
            update(members)
            .where(members.c.id == member_id)
            .values(pin_failures=members.c.pin_failures + 1)
            .returning(members.c.pin_failures)
        ).scalar_one()
        self.audit.record("pin.failed", member_id, pin_failures=int(failures))
        return int(failures)

    def lock_pin(self, member_id: str, until: datetime) -> None:
        self.conn.execute(
            update(members).where(members.c.id == member_id).values(pin_locked_until=utc(until))
        )
        self.audit.record("pin.locked", member_id, pin_locked_until=utc(until).isoformat())

    def reset_pin_failures(self, member_id: str) -> None:
        self.conn.execute(
            update(members)
            .where(members.c.id == member_id, members.c.pin_failures != 0)
            .values(pin_failures=0)
        )

    def update_profile(
        self,
        member_id: str,
        *,
        privacy: Privacy | None,
        locale: str | None,
        display_name: str | None,
    ) -> None:
        values: dict[str, Any] = {}
        if privacy is not None:
            values["privacy"] = privacy.value
        if locale is not None:
            values["locale"] = locale
        if display_name is not None:
            values["display_name"] = display_name
        if values:
            self.conn.execute(update(members).where(members.c.id == member_id).values(values))

    def add_token(self, token_hash: str, member_id: str, now: datetime, expires: datetime) -> None:
        self.conn.execute(
            api_tokens.insert().values(
                token_hash=token_hash,
                member_id=member_id,
                created_at=utc(now),
                expires_at=utc(expires),
            )
        )

    def revoke_token(self, token_hash: str) -> None:
        self.conn.execute(delete(api_tokens).where(api_tokens.c.token_hash == token_hash))

    def password_hash(self, member_id: str) -> str | None:
        found: str | None = self.conn.execute(
            select(members.c.password_hash).where(members.c.id == member_id)
        ).scalar()
        return found

    def member_for_token(self, token_hash: str, now: datetime) -> Member | None:
        row = (
            self.conn.execute(
                select(members)
                .join(api_tokens, api_tokens.c.member_id == members.c.id)
                .where(api_tokens.c.token_hash == token_hash, api_tokens.c.expires_at > utc(now))
            )
            .mappings()
            .first()
        )
        return _member(row) if row else None


class SqlIdentities:
    def __init__(self, conn: Connection, audit: AuditBuffer | None = None) -> None:
        self.conn = conn
        self.audit = audit or AuditBuffer(lambda: datetime.now(UTC))

    def add(self, identity: Identity) -> bool:
        added = insert_once(
            self.conn,
            identities,
            {
                "id": identity.id,
                "member_id": identity.member_id,
                "network": identity.network,
                "network_user_id": identity.network_user_id,
                "handle": identity.handle,
                "display_name": identity.display_name,
                "linked_at": utc(identity.linked_at),
            },
        )
        if added:
            self.audit.record(
                "identity.linked",
                identity.member_id,
                network=identity.network,
                network_user_id=identity.network_user_id,
                handle=identity.handle,
            )
        return added

    def member_for(self, network: str, network_user_id: str) -> Member | None:
        row = (
            self.conn.execute(
                select(members)
                .join(identities, identities.c.member_id == members.c.id)
                .where(
                    and_(
                        identities.c.network == network,
                        identities.c.network_user_id == network_user_id,
                    )
                )
            )
            .mappings()
            .first()
        )
        return _member(row) if row else None

    def of_member(self, member_id: str) -> list[Identity]:
        rows = self.conn.execute(
            select(identities)
            .where(identities.c.member_id == member_id)
            .order_by(identities.c.linked_at)
        ).mappings()
        return [_identity(r) for r in rows]

    def first_of_member(self, member_id: str, network: str) -> Identity | None:
        query = select(identities).where(
            identities.c.member_id == member_id, identities.c.network == network
        )
        row = self.conn.execute(query.order_by(identities.c.linked_at).limit(1)).mappings().first()
        return _identity(row) if row else None

    def others_with_handle(self, network: str, handle: str, network_user_id: str) -> bool:
        """A linked account other than ``network_user_id`` was last seen as ``handle``
        (its owner renamed since: the handle has changed hands)."""
        query = select(identities.c.id).where(
            identities.c.network == network,
            func.lower(identities.c.handle) == handle.lower(),
            identities.c.network_user_id != network_user_id,
        )
        return self.conn.execute(query.limit(1)).first() is not None

    def update_handle(self, network: str, network_user_id: str, handle: str, name: str) -> None:
        c = identities.c
        mine = and_(c.network == network, c.network_user_id == network_user_id)
        linked = self.conn.execute(
            select(c.member_id, c.handle, c.display_name).where(mine)
        ).first()
        if linked is None or (linked.handle, linked.display_name) == (handle, name):
            return  # not linked, or nothing new: no write
        self.conn.execute(update(identities).where(mine).values(handle=handle, display_name=name))
        if linked.handle != handle:
            self.audit.record(
                "identity.renamed",
                linked.member_id,
                network=network,
                network_user_id=network_user_id,
                old_handle=linked.handle,
                new_handle=handle,
            )

    def lock_account(self, network: str, network_user_id: str) -> None:
        # SQLite's BEGIN IMMEDIATE already serialises every writer.
        if self.conn.dialect.name != "postgresql":
            return
        # The row may not exist yet: create it (a concurrent creator makes this wait for
        # its commit, then do nothing), then lock it. Every later statement of this
        # transaction sees what the previous holder committed (READ COMMITTED).
        key = {"network": network, "network_user_id": network_user_id}
        insert_once(self.conn, claim_locks, key)
        self.conn.execute(
            select(claim_locks.c.network)
            .where(
                claim_locks.c.network == network,
                claim_locks.c.network_user_id == network_user_id,
            )
            .with_for_update()
        )


class SqlPots:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, pot: Pot, currency: str) -> bool:
        return insert_once(
            self.conn,
            pots,
            {
                "id": pot.id,
                "hashtag": pot.hashtag,
                "title": pot.title,
                "owner_member_id": pot.owner_member_id,
                "goal_minor": pot.goal.minor if pot.goal else None,
                "currency": currency,
                "created_at": utc(pot.created_at),
                "closes_at": utc(pot.closes_at) if pot.closes_at else None,
                "all_or_nothing": pot.all_or_nothing,
            },
        )

    def get(self, pot_id: str) -> Pot | None:
        row = self.conn.execute(select(pots).where(pots.c.id == pot_id)).mappings().first()
        return _pot(row) if row else None

    def close(self, pot_id: str, now: datetime) -> bool:
        """No more contributions; False if it already was closed."""
        result = self.conn.execute(
            update(pots)
            .where(pots.c.id == pot_id, pots.c.closed_at.is_(None))
            .values(closed_at=utc(now))
            .returning(pots.c.id)
        )
        return result.first() is not None

    def set_outcome(self, pot_id: str, outcome: str, now: datetime) -> bool:
        """A campaign's end, once (compare-and-set: a second worker changes nothing)."""
        result = self.conn.execute(
            update(pots)
            .where(pots.c.id == pot_id, pots.c.outcome.is_(None))
            .values(outcome=outcome, closed_at=func.coalesce(pots.c.closed_at, utc(now)))
            .returning(pots.c.id)
        )
        return result.first() is not None

    def campaigns_due(self, now: datetime, *, limit: int) -> list[Pot]:
        rows = self.conn.execute(
            select(pots)
            .where(
                pots.c.all_or_nothing.is_(True),
                pots.c.outcome.is_(None),
                pots.c.closes_at <= utc(now),
            )
            .order_by(pots.c.closes_at)
            .limit(limit)
        ).mappings()
        return [_pot(r) for r in rows]

    def choose(self, intent_id: str, pot_id: str, show_name: bool) -> None:
        row = {"intent_id": intent_id, "pot_id": pot_id, "show_name": show_name}
        if not insert_once(self.conn, pot_choices, row):
            self.conn.execute(
                update(pot_choices)
                .where(pot_choices.c.intent_id == intent_id)
                .values(show_name=show_name)
            )

    def contributions(self, pot_id: str, states: tuple[str, ...]) -> list[PotContribution]:
        """Contributions in these states, oldest first, with each contributor's choice."""
        i = payment_intents
        rows = self.conn.execute(
            select(
                i.c.id,
                i.c.payer_member_id,
                members.c.display_name,
                i.c.amount_minor,
                i.c.currency,
                i.c.state,
                i.c.settled_at,
                pot_choices.c.show_name,
            )
            .join(members, members.c.id == i.c.payer_member_id)
            .outerjoin(pot_choices, pot_choices.c.intent_id == i.c.id)
            .where(i.c.pot_id == pot_id, i.c.kind == "pot", i.c.state.in_(states))
            .order_by(i.c.settled_at, i.c.id)
        ).mappings()
        return [
            PotContribution(
                intent_id=r["id"],
                member_id=r["payer_member_id"],
                name=r["display_name"] if r["show_name"] else None,
                amount=Money(r["amount_minor"], r["currency"]),
                state=r["state"],
                at=aware(r["settled_at"]),
            )
            for r in rows
        ]

    def by_hashtag(self, hashtag: str) -> Pot | None:
        row = self.conn.execute(select(pots).where(pots.c.hashtag == hashtag)).mappings().first()
        return _pot(row) if row else None
