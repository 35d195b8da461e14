"""The sandbox network's data: accounts, posts, timeline, inbox, and delivery to the bot.

Each method is one database transaction. A post that concerns the bot is marked
``for_bot`` when it is written; ``delivered_at`` stays NULL until the bot has received
it (and goes back to NULL when it is deleted, until the deletion is received), so a
worker can catch up on anything committed but not delivered.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from envoi.adapters.networks.sandbox import text as txt
from envoi.adapters.networks.sandbox.model import (
    ACCOUNT_COLUMNS,
    NETWORK,
    NewAccount,
    PendingDelivery,
    SandboxAccount,
    SandboxPost,
    Visibility,
    account_from_row,
    is_sandbox_id,
)
from envoi.adapters.networks.sandbox.queries import (
    accounts_by_keys,
    addressed_by_mention,
    load_posts,
    visible,
)
from envoi.adapters.networks.sandbox.tables import sandbox_accounts as accounts
from envoi.adapters.networks.sandbox.tables import sandbox_post_mentions as mentions
from envoi.adapters.networks.sandbox.tables import sandbox_posts as posts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.faults import crash_point
from envoi.services.ports import Clock, InboundPort

__all__ = [
    "NETWORK",
    "NewAccount",
    "PendingDelivery",
    "SandboxAccount",
    "SandboxNetwork",
    "SandboxPost",
]

_TOKEN_MAX = 200
logger = logging.getLogger(__name__)


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SandboxNetwork:
    """The sandbox network over an Engine; ``bot_handle`` is the account envoi listens as."""

    def __init__(self, engine: Engine, bot_handle: str, *, clock: Clock | None = None) -> None:
        if not txt.is_handle(bot_handle):
            raise ValueError(f"not a sandbox handle: {bot_handle!r}")
        self.engine = engine
        self.bot_handle = bot_handle
        self._bot_key = txt.handle_key(bot_handle)
        self._clock = clock or _UtcClock()

    # --- Accounts -------------------------------------------------------------------

    def create_account(self, handle: str, display_name: str) -> NewAccount:
        handle = txt.check_handle(handle)
        self._check_not_reserved(handle)
        return self._insert_account(handle, txt.check_display_name(display_name))

    def ensure_bot_account(self, display_name: str = "envoi") -> SandboxAccount:
        """The bot's account, created on first use (its token is never needed: envoi
        posts as the bot directly through this store)."""
        for _ in range(2):  # a concurrent creator wins the race: read theirs
            found = self.get_by_handle(self.bot_handle)
            if found is not None:
                return found
            try:
                return self._insert_account(self.bot_handle, display_name).account
            except EnvoiError:
                continue
        raise RuntimeError("bot account could not be created")

    def _insert_account(self, handle: str, display_name: str) -> NewAccount:
        token = f"sbt_{secrets.token_urlsafe(32)}"
        account = SandboxAccount(_new_id("sbx"), handle, display_name, self._clock.now())
        try:
            with self.engine.begin() as conn:
                if self._account_id_by_key(conn, txt.handle_key(handle)) is not None:
                    raise EnvoiError(ErrorCode.HANDLE_TAKEN, handle=handle)
                conn.execute(
                    accounts.insert().values(
                        id=account.id,
                        handle=handle,
                        handle_key=txt.handle_key(handle),
                        display_name=display_name,
                        token_hash=_hash_token(token),
                        created_at=account.created_at,
                    )
                )
        except IntegrityError:  # lost a race for the same handle
            raise EnvoiError(ErrorCode.HANDLE_TAKEN, handle=handle) from None
        return NewAccount(account, token)

    def new_token(self, account_id: str) -> str:
        """Issue a fresh token (the old one stops working), as a network's "regenerate
        API key" does: tokens are stored hashed and cannot be shown again."""
        token = f"sbt_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            done = conn.execute(
                accounts.update()
                .where(accounts.c.id == account_id)
                .values(token_hash=_hash_token(token))
            )
        if done.rowcount != 1:
            raise EnvoiError(ErrorCode.NOT_FOUND, account_id=account_id[:40])
        return token

    def authenticate(self, token: str) -> SandboxAccount | None:
        if not token or len(token) > _TOKEN_MAX or not token.isascii():
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*ACCOUNT_COLUMNS).where(accounts.c.token_hash == _hash_token(token))
            ).first()
        return account_from_row(row) if row else None

    def rename(self, account_id: str, new_handle: str) -> SandboxAccount:
        """Change the handle; the id stays, and the old handle is free for anyone."""
        handle = txt.check_handle(new_handle)
        key = txt.handle_key(handle)
        self._check_not_reserved(handle)
        try:
            with self.engine.begin() as conn:
                holder = self._account_id_by_key(conn, key)
                if holder is not None and holder != account_id:
                    raise EnvoiError(ErrorCode.HANDLE_TAKEN, handle=handle)
                conn.execute(
                    update(accounts)
                    .where(accounts.c.id == account_id)
                    .values(handle=handle, handle_key=key)
                )
                row = conn.execute(
                    select(*ACCOUNT_COLUMNS).where(accounts.c.id == account_id)
                ).first()
        except IntegrityError:  # lost a race for the same handle
            raise EnvoiError(ErrorCode.HANDLE_TAKEN, handle=handle) from None
        if row is None:
            raise EnvoiError(ErrorCode.NOT_FOUND, account_id=account_id)
        return account_from_row(row)

    def get_by_handle(self, handle: str) -> SandboxAccount | None:
        handle = handle.removeprefix("@")
        if not txt.is_handle(handle):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*ACCOUNT_COLUMNS).where(accounts.c.handle_key == txt.handle_key(handle))
            ).first()
        return account_from_row(row) if row else None

    def _check_not_reserved(self, handle: str) -> None:
        # Nobody may pose as the bot, even before its account exists; "me" is the API's
        # name for the caller's own account.
        if txt.handle_key(handle) in (self._bot_key, "me"):
            raise EnvoiError(ErrorCode.HANDLE_TAKEN, handle=handle)

    @staticmethod
    def _account_id_by_key(conn: Connection, key: str) -> str | None:
        found: str | None = conn.execute(
            select(accounts.c.id).where(accounts.c.handle_key == key)
        ).scalar()
        return found

    # --- Posts ----------------------------------------------------------------------

    def post(
        self,
        author_id: str,
        text: str,
        *,
        visibility: Visibility = "public",
        in_reply_to: str | None = None,
        to: str | None = None,
        to_user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> SandboxPost:
        """Publish a post (``public``) or a direct message.

        A direct message goes to ``to`` (a handle) or ``to_user_id`` alone when given —
        naming someone in a private message must not show it to them — else to the
        accounts it mentions.

        With an ``idempotency_key`` (as Stripe's header or Matrix's transaction id), the
        author's second post with the same key is not written: the first post comes back,
        provided it says the same thing to the same place (otherwise a validation error).
        """
        text = txt.check_post_text(text)
        if idempotency_key is not None:
            txt.check_idempotency_key(idempotency_key)
        if (to is not None or to_user_id is not None) and visibility != "direct":
            raise EnvoiError(ErrorCode.VALIDATION_ERROR, field="to", reason="direct_only")
        try:
            return self._post(
                author_id,
                text,
                visibility=visibility,
                in_reply_to=in_reply_to,
                to=to,
                to_user_id=to_user_id,
                idempotency_key=idempotency_key,
            )
        except IntegrityError:
            if idempotency_key is None:
                raise
            # A concurrent send with the same key committed first: answer with its post.
            with self.engine.connect() as conn:
                recipient_id = self._resolve_recipient(conn, to, to_user_id)
                first = self._by_idempotency_key(conn, author_id, idempotency_key)
            if first is None:  # the conflict was about something else
                raise
            return _same_request(first, text, visibility, in_reply_to, recipient_id)

    def _post(
        self,
        author_id: str,
        text: str,
        *,
        visibility: Visibility,
        in_reply_to: str | None,
        to: str | None,
        to_user_id: str | None,
        idempotency_key: str | None,
    ) -> SandboxPost:
        post_id, now = _new_id("sbp"), self._clock.now()
        with self.engine.begin() as conn:
            author = conn.execute(
                select(*ACCOUNT_COLUMNS).where(accounts.c.id == author_id)
            ).first()
            if author is None:
                raise EnvoiError(ErrorCode.NOT_FOUND, account_id=author_id)
            recipient_id = self._resolve_recipient(conn, to, to_user_id)
            if idempotency_key is not None:
                first = self._by_idempotency_key(conn, author_id, idempotency_key)
                if first is not None:  # a retry of a send that went through
                    return _same_request(first, text, visibility, in_reply_to, recipient_id)
            if in_reply_to is not None and not visible(conn, in_reply_to, author_id):
                raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=in_reply_to)
            handles = txt.extract_mentions(text)
            found = accounts_by_keys(conn, [txt.handle_key(h) for h in handles])
            resolved = [found[txt.handle_key(h)] for h in handles if txt.handle_key(h) in found]
            if visibility == "direct" and recipient_id is None and not resolved:
                raise EnvoiError(ErrorCode.VALIDATION_ERROR, field="to", reason="no_recipient")
            from_bot = txt.handle_key(author.handle) == self._bot_key
            if recipient_id is not None:  # a DM with an explicit ``to`` goes to that account only
                to_bot = self._is_bot(conn, recipient_id)
            else:  # public: the bot is named; DM: the bot is among the mentioned addressees
                to_bot = any(txt.handle_key(h) == self._bot_key for h in handles)
            conn.execute(
                posts.insert().values(
                    id=post_id,
                    author_id=author_id,
                    text=text,
                    visibility=visibility,
                    in_reply_to=in_reply_to,
                    recipient_id=recipient_id,
                    created_at=now,
                    for_bot=to_bot and not from_bot,
                    idempotency_key=idempotency_key,
                )
            )
            if resolved:
                conn.execute(
                    mentions.insert(),
                    [
                        {
                            "post_id": post_id,
                            "position": i,
                            "account_id": acc.id,
                            "handle": acc.handle,
                            "display_name": acc.display_name,
                        }
                        for i, acc in enumerate(resolved)
                    ],
                )
            loaded = load_posts(conn, posts.c.id == post_id, include_deleted=True)
        return loaded[0]

    def posted_with_key(self, author_id: str, idempotency_key: str) -> SandboxPost | None:
        """The author's post sent with this idempotency key, deleted or not, if any."""
        with self.engine.connect() as conn:
            return self._by_idempotency_key(conn, author_id, idempotency_key)

    def delete(self, author_id: str, post_id: str) -> SandboxPost:
        """Delete one's own post: it disappears everywhere; the bot is told if it had it."""
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    select(posts.c.author_id, posts.c.deleted_at).where(posts.c.id == post_id)
                ).first()
                if is_sandbox_id(post_id)
                else None
            )
            if row is None or row.deleted_at is not None:
                raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=post_id)
            if row.author_id != author_id:
                raise EnvoiError(ErrorCode.FORBIDDEN, post_id=post_id)
            conn.execute(mentions.delete().where(mentions.c.post_id == post_id))
            conn.execute(
                update(posts)
                .where(posts.c.id == post_id)
                .values(text="", deleted_at=self._clock.now(), delivered_at=None)
            )
            return load_posts(conn, posts.c.id == post_id, include_deleted=True)[0]

    def get_post(self, post_id: str, viewer_id: str | None = None) -> SandboxPost | None:
        """A live post as ``viewer_id`` may see it (direct messages: participants only)."""
        if not is_sandbox_id(post_id):
            return None
        with self.engine.connect() as conn:
            if not visible(conn, post_id, viewer_id):
                return None
            found = load_posts(conn, posts.c.id == post_id)
        return found[0] if found else None

    def timeline(self, limit: int = 50) -> list[SandboxPost]:
        """Public posts, newest first."""
        with self.engine.connect() as conn:
            return load_posts(conn, posts.c.visibility == "public", limit=limit)

    def inbox(self, account_id: str, limit: int = 50) -> list[SandboxPost]:
        """Replies to the account's posts, direct messages to it, posts mentioning it."""
        parent = posts.alias("parent")
        reply_to_mine = exists().where(
            parent.c.id == posts.c.in_reply_to, parent.c.author_id == account_id
        )
        where = and_(
            posts.c.author_id != account_id,
            or_(
                posts.c.recipient_id == account_id,
                addressed_by_mention(account_id),
                and_(reply_to_mine, posts.c.visibility == "public"),
            ),
        )
        with self.engine.connect() as conn:
            return load_posts(conn, where, limit=limit)

    # --- Delivery to the bot --------------------------------------------------------

    def undelivered_for_bot(
        self, after_cursor: int | None = None, limit: int = 100
    ) -> list[PendingDelivery]:
        """What the bot has not received yet, oldest first, after ``after_cursor``.

        Start each catch-up pass from None: on PostgreSQL a post with a lower cursor
        can commit after a higher one, and marking, not the cursor, records progress.
        """
        where: ColumnElement[bool] = and_(posts.c.for_bot, posts.c.delivered_at.is_(None))
        if after_cursor is not None:
            where = and_(where, posts.c.seq > after_cursor)
        with self.engine.connect() as conn:
            found = load_posts(conn, where, include_deleted=True, limit=limit, newest_first=False)
        return [PendingDelivery.of(p) for p in found]

    def deliver(self, post_id: str, inbound: InboundPort) -> bool:
        """Deliver one post's pending state now (called right after it commits)."""
        if not is_sandbox_id(post_id):
            return False
        with self.engine.connect() as conn:
            found = load_posts(
                conn,
                and_(posts.c.id == post_id, posts.c.for_bot, posts.c.delivered_at.is_(None)),
                include_deleted=True,
            )
        if not found:
            return False
        return self._deliver_one(inbound, PendingDelivery.of(found[0]))

    def deliver_pending(self, inbound: InboundPort, *, batch: int = 100) -> int:
        """Redeliver everything owed to the bot; returns how many were delivered.

        A delivery that fails stays pending for the next pass and does not block the rest.
        """
        delivered, cursor = 0, None
        while page := self.undelivered_for_bot(cursor, batch):
            delivered += sum(self._deliver_one(inbound, item) for item in page)
            cursor = page[-1].cursor
        return delivered

    def _deliver_one(self, inbound: InboundPort, item: PendingDelivery) -> bool:
        try:
            if item.post is None:
                inbound.receive_deletion(NETWORK, item.post_id)
            else:
                inbound.receive_post(item.post)
        except Exception:
            logger.exception("sandbox delivery of %s failed; it stays pending", item.post_id)
            return False
        crash_point("sandbox.received_unmarked")  # envoi has it; the network will resend
        # Only mark the state that was delivered: a deletion that landed meanwhile stays owed.
        state = posts.c.deleted_at.is_not(None) if item.deletion else posts.c.deleted_at.is_(None)
        with self.engine.begin() as conn:
            conn.execute(
                update(posts)
                .where(posts.c.id == item.post_id, posts.c.delivered_at.is_(None), state)
                .values(delivered_at=self._clock.now())
            )
        return True

    # --- Helpers --------------------------------------------------------------------

    @staticmethod
    def _by_idempotency_key(conn: Connection, author_id: str, key: str) -> SandboxPost | None:
        found = load_posts(
            conn,
            and_(posts.c.author_id == author_id, posts.c.idempotency_key == key),
            include_deleted=True,
        )
        return found[0] if found else None

    def _is_bot(self, conn: Connection, account_id: str) -> bool:
        key = conn.execute(select(accounts.c.handle_key).where(accounts.c.id == account_id))
        return key.scalar() == self._bot_key

    def _resolve_recipient(
        self, conn: Connection, to: str | None, to_user_id: str | None
    ) -> str | None:
        if to_user_id is not None:
            exists_ = (
                is_sandbox_id(to_user_id)
                and conn.execute(select(accounts.c.id).where(accounts.c.id == to_user_id)).first()
            )
            if not exists_:
                raise EnvoiError(ErrorCode.NOT_FOUND, user_id=to_user_id)
            return to_user_id
        if to is None:
            return None
        handle = txt.check_handle(to)
        found = self._account_id_by_key(conn, txt.handle_key(handle))
        if found is None:
            raise EnvoiError(ErrorCode.NOT_FOUND, handle=handle)
        return found


def _same_request(
    first: SandboxPost,
    text: str,
    visibility: Visibility,
    in_reply_to: str | None,
    recipient_id: str | None,
) -> SandboxPost:
    """The post an idempotency key already stands for, if the retry asks for the same one.

    A key reused for a different message is the caller's bug: refused, as Stripe does,
    rather than silently dropping the second message.
    """
    recipient = first.recipient.id if first.recipient else None
    if (first.text, first.visibility, first.in_reply_to, recipient) != (
        text,
        visibility,
        in_reply_to,
        recipient_id,
    ) and not first.deleted:
        raise EnvoiError(ErrorCode.VALIDATION_ERROR, field="idempotency_key", reason="reused")
    return first
