"""Payment intents, inbound posts and card top-ups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, RowMapping, and_, func, not_, or_, select, update

from envoi.adapters.db.audit import AuditBuffer
from envoi.adapters.db.rows import aware, insert_once, utc
from envoi.adapters.db.tables import identities, inbound_posts, payment_intents, topups
from envoi.domain.model import (
    IntentKind,
    IntentState,
    Payee,
    PayeeKind,
    PayeeWarning,
    PaymentIntent,
    Privacy,
    Topup,
)
from envoi.money import Money
from envoi.services.ports import InboundPost

_COMMITTED = [
    IntentState.AWAITING_CONFIRMATION.value,
    IntentState.SETTLED.value,
    IntentState.CLAIMABLE.value,
    IntentState.CLAIMED.value,
    IntentState.PLEDGED.value,
]
_WINDOW_COLUMN = {
    IntentState.AWAITING_CONFIRMATION: payment_intents.c.expires_at,
    IntentState.CLAIMABLE: payment_intents.c.claim_expires_at,
}


def _intent(row: RowMapping) -> PaymentIntent:
    currency = row["currency"]
    created, expires = aware(row["created_at"]), aware(row["expires_at"])
    assert created is not None
    assert expires is not None
    return PaymentIntent(
        id=row["id"],
        kind=IntentKind(row["kind"]),
        state=IntentState(row["state"]),
        payer_member_id=row["payer_member_id"],
        payee=Payee(
            kind=PayeeKind(row["payee_kind"]),
            handle=row["payee_handle"],
            display_name=row["payee_display_name"],
            member_id=row["payee_member_id"],
            network=row["payee_network"],
            network_user_id=row["payee_network_user_id"],
            pot_id=row["pot_id"],
        ),
        amount=Money(row["amount_minor"], currency),
        fee=Money(row["fee_minor"], currency),
        fee_charged_to="payee" if row["fee_charged_to"] == "payee" else "payer",
        privacy=Privacy(row["privacy"]),
        source_network=row["source_network"],
        source_post_id=row["source_post_id"],
        requester_member_id=row["requester_member_id"],
        payer_network_user_id=row["payer_network_user_id"],
        payer_handle=row["payer_handle"],
        created_at=created,
        expires_at=expires,
        settled_at=aware(row["settled_at"]),
        claim_expires_at=aware(row["claim_expires_at"]),
        finished_at=aware(row["finished_at"]),
        payee_warnings=tuple(PayeeWarning(w) for w in row["payee_warnings"].split(",") if w),
    )


class SqlIntents:
    def __init__(self, conn: Connection, audit: AuditBuffer | None = None) -> None:
        self.conn = conn
        self.audit = audit or AuditBuffer(lambda: datetime.now(UTC))

    def add(self, intent: PaymentIntent) -> None:
        self.conn.execute(
            payment_intents.insert().values(
                id=intent.id,
                kind=intent.kind.value,
                state=intent.state.value,
                payer_member_id=intent.payer_member_id,
                payer_network_user_id=intent.payer_network_user_id,
                payer_handle=intent.payer_handle,
                requester_member_id=intent.requester_member_id,
                payee_kind=intent.payee.kind.value,
                payee_member_id=intent.payee.member_id,
                payee_network=intent.payee.network,
                payee_network_user_id=intent.payee.network_user_id,
                payee_handle=intent.payee.handle,
                payee_display_name=intent.payee.display_name,
                pot_id=intent.payee.pot_id,
                amount_minor=intent.amount.minor,
                fee_minor=intent.fee.minor,
                fee_charged_to=intent.fee_charged_to,
                currency=intent.amount.currency,
                privacy=intent.privacy.value,
                source_network=intent.source_network,
                source_post_id=intent.source_post_id,
                created_at=utc(intent.created_at),
                expires_at=utc(intent.expires_at),
                payee_warnings=",".join(intent.payee_warnings),
            )
        )
        self.audit.record(
            "intent.created",
            intent.payer_member_id,
            intent_id=intent.id,
            kind=intent.kind.value,
            state=intent.state.value,
            amount_minor=intent.amount.minor,
            fee_minor=intent.fee.minor,
            currency=intent.amount.currency,
            payee_kind=intent.payee.kind.value,
            payee_member_id=intent.payee.member_id,
            payee_network=intent.payee.network,
            payee_network_user_id=intent.payee.network_user_id,
            payee_handle=intent.payee.handle,
            payee_warnings=list(intent.payee_warnings),
        )

    def payee_history(
        self, payer_member_id: str, network: str, handle: str, network_user_id: str
    ) -> tuple[bool, bool]:
        """(this payer once paid another network user under ``handle``, this payer has
        paid this network user before): payments confirmed, whatever became of them."""
        paid = (
            select(payment_intents.c.payee_network_user_id, payment_intents.c.payee_handle)
            .where(
                payment_intents.c.payer_member_id == payer_member_id,
                payment_intents.c.payee_network == network,
                payment_intents.c.state.in_(("settled", "claimable", "claimed", "refunded")),
                or_(
                    func.lower(payment_intents.c.payee_handle) == handle.lower(),
                    payment_intents.c.payee_network_user_id == network_user_id,
                ),
            )
            .distinct()
        )
        rows = self.conn.execute(paid).all()
        other = any(uid != network_user_id and h.lower() == handle.lower() for uid, h in rows)
        known = any(uid == network_user_id for uid, _ in rows)
        return other, known

    def get(self, intent_id: str) -> PaymentIntent | None:
        row = (
            self.conn.execute(select(payment_intents).where(payment_intents.c.id == intent_id))
            .mappings()
            .first()
        )
        return _intent(row) if row else None

    def by_source(self, network: str, post_id: str) -> PaymentIntent | None:
        row = (
            self.conn.execute(
                select(payment_intents).where(
                    payment_intents.c.source_network == network,
                    payment_intents.c.source_post_id == post_id,
                )
            )
            .mappings()
            .first()
        )
        return _intent(row) if row else None

    def transition(
        self, intent_id: str, from_state: IntentState, to_state: IntentState, **fields: Any
    ) -> bool:
        values = {k: utc(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        t = payment_intents.c
        changed = self.conn.execute(
            update(payment_intents)
            .where(t.id == intent_id, t.state == from_state.value)
            .values(state=to_state.value, **values)
            .returning(t.payer_member_id, t.amount_minor, t.fee_minor, t.currency)
        ).first()
        if changed is None:
            return False
        self.audit.record(
            "intent.state",
            changed.payer_member_id,
            intent_id=intent_id,
            from_state=from_state.value,
            to_state=to_state.value,
            amount_minor=changed.amount_minor,
            fee_minor=changed.fee_minor,
            currency=changed.currency,
        )
        return True

    def for_member(
        self, member_id: str, *, state: IntentState | None = None, limit: int = 100
    ) -> list[PaymentIntent]:
        t = payment_intents
        query = select(t).where(
            or_(
                t.c.payer_member_id == member_id,
                t.c.payee_member_id == member_id,
                t.c.requester_member_id == member_id,
            )
        )
        if state is not None:
            query = query.where(t.c.state == state.value)
        rows = self.conn.execute(query.order_by(t.c.created_at.desc()).limit(limit)).mappings()
        return [_intent(r) for r in rows]

    def to_confirm(self, member_id: str) -> list[PaymentIntent]:
        t = payment_intents
        rows = self.conn.execute(
            select(t)
            .where(
                t.c.payer_member_id == member_id,
                t.c.state == IntentState.AWAITING_CONFIRMATION.value,
            )
            .order_by(t.c.created_at.desc())
        ).mappings()
        return [_intent(r) for r in rows]

    def claimable_for(self, network: str, network_user_id: str) -> list[PaymentIntent]:
        t = payment_intents
        rows = self.conn.execute(
            select(t)
            .where(
                t.c.payee_network == network,
                t.c.payee_network_user_id == network_user_id,
                t.c.state == IntentState.CLAIMABLE.value,
            )
            .order_by(t.c.created_at)
        ).mappings()
        return [_intent(r) for r in rows]

    def claimable_by_members(self, *, limit: int) -> list[tuple[str, str]]:
        t, i = payment_intents, identities
        rows = self.conn.execute(
            select(t.c.payee_network, t.c.payee_network_user_id)
            .join(
                i,
                and_(
                    i.c.network == t.c.payee_network,
                    i.c.network_user_id == t.c.payee_network_user_id,
                ),
            )
            .where(t.c.state == IntentState.CLAIMABLE.value)
            .distinct()
            .limit(limit)
        ).all()
        return [(r[0], r[1]) for r in rows]

    def due(self, state: IntentState, now: datetime, *, limit: int) -> list[PaymentIntent]:
        t = payment_intents
        column = _WINDOW_COLUMN[state]
        query = (
            select(t)
            .where(t.c.state == state.value, column <= utc(now))
            .order_by(column)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            # Many workers: each takes rows nobody else holds (SQLite serialises writers anyway).
            query = query.with_for_update(skip_locked=True)
        return [_intent(r) for r in self.conn.execute(query).mappings()]

    def outgoing_total(self, payer_member_id: str, since: datetime) -> int:
        t = payment_intents
        # A request counts once its payer agrees: asking must not eat someone's limits.
        unanswered_request = and_(
            t.c.kind == "request", t.c.state == IntentState.AWAITING_CONFIRMATION.value
        )
        total = self.conn.execute(
            select(func.coalesce(func.sum(t.c.amount_minor), 0)).where(
                t.c.payer_member_id == payer_member_id,
                t.c.state.in_(_COMMITTED),
                not_(unanswered_request),
                func.coalesce(t.c.settled_at, t.c.created_at) >= utc(since),
            )
        ).scalar_one()
        return int(total)


class SqlInboundPosts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_once(self, post: InboundPost, now: datetime) -> bool:
        return insert_once(
            self.conn,
            inbound_posts,
            {
                "network": post.network,
                "post_id": post.post_id,
                "author_user_id": post.author.user_id,
                "author_handle": post.author.handle,
                "text": post.text,
                "direct": post.direct,
                "received_at": utc(now),
                "outcome": "received",
            },
        )

    def set_outcome(self, network: str, post_id: str, outcome: str, intent_id: str | None) -> None:
        self.conn.execute(
            update(inbound_posts)
            .where(inbound_posts.c.network == network, inbound_posts.c.post_id == post_id)
            .values(outcome=outcome, intent_id=intent_id)
        )

    def mark_deleted(self, network: str, post_id: str, now: datetime) -> bool:
        result = self.conn.execute(
            update(inbound_posts)
            .where(
                inbound_posts.c.network == network,
                inbound_posts.c.post_id == post_id,
                inbound_posts.c.deleted_at.is_(None),
            )
            .values(deleted_at=utc(now))
        )
        return bool(result.rowcount == 1)

    def add_tombstone(self, network: str, post_id: str, now: datetime) -> None:
        insert_once(
            self.conn,
            inbound_posts,
            {
                "network": network,
                "post_id": post_id,
                "author_user_id": "",
                "author_handle": "",
                "text": "",
                "direct": False,
                "received_at": utc(now),
                "outcome": "deleted",
                "deleted_at": utc(now),
            },
        )

    def count_recent(self, network: str, author_user_id: str, since: datetime) -> int:
        t = inbound_posts
        return int(
            self.conn.execute(
                select(func.count()).where(
                    t.c.network == network,
                    t.c.author_user_id == author_user_id,
                    t.c.received_at >= utc(since),
                    t.c.outcome != "ignored",
                )
            ).scalar_one()
        )


def _topup(row: RowMapping) -> Topup:
    created = aware(row["created_at"])
    assert created is not None
    status = "requires_action" if row["status"] == "pending" else row["status"]
    return Topup(
        id=row["id"],
        member_id=row["member_id"],
        amount=Money(row["amount_minor"], row["currency"]),
        status=cast(Literal["succeeded", "requires_action", "declined"], status),
        processor=row["processor"],
        processor_ref=row["processor_ref"] or "",
        last4=row["last4"],
        decline_code=row["decline_code"],
        action_url=row["action_url"],
        created_at=created,
    )


class SqlTopups:
    def __init__(self, conn: Connection, audit: AuditBuffer | None = None) -> None:
        self.conn = conn
        self.audit = audit or AuditBuffer(lambda: datetime.now(UTC))

    def add_pending(self, topup: Topup, request_key: str) -> bool:
        added = insert_once(
            self.conn,
            topups,
            {
                "id": topup.id,
                "member_id": topup.member_id,
                "request_key": request_key,
                "amount_minor": topup.amount.minor,
                "currency": topup.amount.currency,
                "status": "pending",
                "processor": topup.processor,
                "last4": topup.last4,
                "created_at": utc(topup.created_at),
            },
        )
        if added:
            self.audit.record(
                "topup.created",
                topup.member_id,
                topup_id=topup.id,
                amount_minor=topup.amount.minor,
                currency=topup.amount.currency,
                processor=topup.processor,
            )
        return added

    def _one(self, *where: Any) -> Topup | None:
        row = self.conn.execute(select(topups).where(*where)).mappings().first()
        return _topup(row) if row else None

    def by_key(self, request_key: str) -> Topup | None:
        return self._one(topups.c.request_key == request_key)

    def by_ref(self, processor_ref: str) -> Topup | None:
        return self._one(topups.c.processor_ref == processor_ref)

    def get(self, topup_id: str) -> Topup | None:
        return self._one(topups.c.id == topup_id)

    def settle(
        self,
        topup_id: str,
        *,
        from_status: str,
        status: str,
        processor_ref: str,
        last4: str,
        decline_code: str | None,
        action_url: str | None,
        now: datetime,
    ) -> bool:
        done = status in ("succeeded", "declined")
        changed = self.conn.execute(
            update(topups)
            .where(topups.c.id == topup_id, topups.c.status == from_status)
            .values(
                status=status,
                processor_ref=processor_ref or None,  # unique: "" would collide
                last4=last4 or topups.c.last4,
                decline_code=decline_code,
                action_url=action_url,
                completed_at=utc(now) if done else None,
            )
            .returning(topups.c.member_id, topups.c.amount_minor, topups.c.currency)
        ).first()
        if changed is None:
            return False
        self.audit.record(
            "topup.status",
            changed.member_id,
            topup_id=topup_id,
            from_status=from_status,
            status=status,
            amount_minor=changed.amount_minor,
            currency=changed.currency,
            decline_code=decline_code,
        )
        return True

    def pending_before(self, when: datetime, limit: int) -> list[Topup]:
        query = (
            select(topups)
            .where(topups.c.status == "pending", topups.c.created_at < utc(when))
            .order_by(topups.c.created_at)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_topup(r) for r in self.conn.execute(query).mappings()]

    def charged_since(self, member_id: str, since: datetime) -> int:
        # In-flight charges count too: a cap that waits for the processor's answer
        # would let a burst of parallel top-ups through.
        total = self.conn.execute(
            select(func.coalesce(func.sum(topups.c.amount_minor), 0)).where(
                topups.c.member_id == member_id,
                topups.c.created_at >= utc(since),
                topups.c.status.in_(("pending", "requires_action", "succeeded")),
            )
        ).scalar_one()
        return int(total)

    def of_member(self, member_id: str, limit: int = 100) -> list[Topup]:
        rows = self.conn.execute(
            select(topups)
            .where(topups.c.member_id == member_id, topups.c.status != "pending")
            .order_by(topups.c.created_at.desc())
            .limit(limit)
        ).mappings()
        return [_topup(r) for r in rows]
