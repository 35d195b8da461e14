"""Reads shared by the sandbox store: posts with their people, and who may see a post."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select

from envoi.adapters.networks.sandbox import text as txt
from envoi.adapters.networks.sandbox.model import (
    ACCOUNT_COLUMNS,
    NETWORK,
    SandboxAccount,
    SandboxPost,
    account_from_row,
    aware,
    is_sandbox_id,
)
from envoi.adapters.networks.sandbox.tables import sandbox_accounts as accounts
from envoi.adapters.networks.sandbox.tables import sandbox_post_mentions as mentions
from envoi.adapters.networks.sandbox.tables import sandbox_posts as posts
from envoi.services.ports import NetworkUser


def accounts_by_keys(conn: Connection, keys: Sequence[str]) -> dict[str, SandboxAccount]:
    """Accounts holding these lower-cased handles now, by handle key."""
    if not keys:
        return {}
    rows = conn.execute(select(*ACCOUNT_COLUMNS).where(accounts.c.handle_key.in_(keys)))
    return {txt.handle_key(row.handle): account_from_row(row) for row in rows}


def addressed_by_mention(account_id: str) -> ColumnElement[bool]:
    """The post mentions the account and has no explicit ``to`` (which would make the
    mention a mere name in someone else's private message)."""
    return and_(
        posts.c.recipient_id.is_(None),
        exists().where(mentions.c.post_id == posts.c.id, mentions.c.account_id == account_id),
    )


def visible(conn: Connection, post_id: str, viewer_id: str | None) -> bool:
    """Is this live post public, or a direct message ``viewer_id`` takes part in?"""
    if not is_sandbox_id(post_id):
        return False
    allowed: ColumnElement[bool] = posts.c.visibility == "public"
    if viewer_id is not None:
        allowed = or_(
            allowed,
            posts.c.author_id == viewer_id,
            posts.c.recipient_id == viewer_id,
            addressed_by_mention(viewer_id),
        )
    query = select(posts.c.seq).where(posts.c.id == post_id, posts.c.deleted_at.is_(None), allowed)
    return conn.execute(query).first() is not None


def load_posts(
    conn: Connection,
    where: ColumnElement[bool],
    *,
    include_deleted: bool = False,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[SandboxPost]:
    """Posts matching ``where`` with their author, recipient and mentions (two queries)."""
    author, recipient = accounts.alias("author"), accounts.alias("recipient")
    query = (
        select(
            posts,
            author.c.handle.label("author_handle"),
            author.c.display_name.label("author_name"),
            author.c.created_at.label("author_since"),
            recipient.c.handle.label("recipient_handle"),
            recipient.c.display_name.label("recipient_name"),
            recipient.c.created_at.label("recipient_since"),
        )
        .join(author, author.c.id == posts.c.author_id)
        .outerjoin(recipient, recipient.c.id == posts.c.recipient_id)
        .where(where)
        .order_by(posts.c.seq.desc() if newest_first else posts.c.seq)
    )
    if not include_deleted:
        query = query.where(posts.c.deleted_at.is_(None))
    if limit is not None:
        query = query.limit(limit)
    rows = conn.execute(query).all()
    if not rows:
        return []
    by_post: dict[str, list[NetworkUser]] = {}
    # The account's opening date comes along: a payer is told when a payee is new.
    mention_rows = conn.execute(
        select(mentions, accounts.c.created_at)
        .join(accounts, accounts.c.id == mentions.c.account_id)
        .where(mentions.c.post_id.in_([r.id for r in rows]))
        .order_by(mentions.c.post_id, mentions.c.position)
    )
    for m in mention_rows:
        by_post.setdefault(m.post_id, []).append(
            NetworkUser(NETWORK, m.account_id, m.handle, m.display_name, aware(m.created_at))
        )
    return [
        SandboxPost(
            cursor=r.seq,
            id=r.id,
            author=SandboxAccount(
                r.author_id, r.author_handle, r.author_name, aware(r.author_since)
            ),
            text=r.text,
            visibility=r.visibility,
            in_reply_to=r.in_reply_to,
            recipient=SandboxAccount(
                r.recipient_id, r.recipient_handle, r.recipient_name, aware(r.recipient_since)
            )
            if r.recipient_id
            else None,
            mentions=tuple(by_post.get(r.id, ())),
            created_at=aware(r.created_at),
            deleted=r.deleted_at is not None,
        )
        for r in rows
    ]
