"""What the sandbox network hands out: accounts, posts, and deliveries owed to the bot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from envoi.adapters.networks.sandbox.tables import sandbox_accounts as accounts
from envoi.services.ports import InboundPost, NetworkUser

NETWORK = "sandbox"
Visibility = Literal["public", "direct"]
_ID = re.compile(r"sb[xp]_[0-9a-f]{16}")


def is_sandbox_id(value: str) -> bool:
    """Outside input is checked before it reaches a query (no NUL or oversized strings)."""
    return _ID.fullmatch(value) is not None


def aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything envoi stores is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SandboxAccount:
    id: str  # immutable
    handle: str  # changeable
    display_name: str
    created_at: datetime

    def as_network_user(self) -> NetworkUser:
        return NetworkUser(NETWORK, self.id, self.handle, self.display_name, self.created_at)


ACCOUNT_COLUMNS = (
    accounts.c.id,
    accounts.c.handle,
    accounts.c.display_name,
    accounts.c.created_at,
)


def account_from_row(row: Any) -> SandboxAccount:
    """A row selected with ``ACCOUNT_COLUMNS``."""
    return SandboxAccount(row.id, row.handle, row.display_name, aware(row.created_at))


@dataclass(frozen=True, slots=True)
class NewAccount:
    account: SandboxAccount
    token: str  # shown once; only its SHA-256 is stored


@dataclass(frozen=True, slots=True)
class SandboxPost:
    cursor: int  # creation order: timeline order and the delivery cursor
    id: str
    author: SandboxAccount
    text: str
    visibility: Visibility
    in_reply_to: str | None
    recipient: SandboxAccount | None  # the explicit ``to`` of a direct message
    mentions: tuple[NetworkUser, ...]  # resolved at posting time
    created_at: datetime
    deleted: bool

    def to_inbound(self) -> InboundPost:
        return InboundPost(
            network=NETWORK,
            post_id=self.id,
            author=self.author.as_network_user(),
            text=self.text,
            direct=self.visibility == "direct",
            created_at=self.created_at,
            in_reply_to=self.in_reply_to,
            mentions=self.mentions,
        )


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """What the bot is owed for one post: the post itself, or (once deleted) its deletion."""

    cursor: int
    post_id: str
    post: InboundPost | None  # None: deliver the deletion

    @property
    def deletion(self) -> bool:
        return self.post is None

    @classmethod
    def of(cls, post: SandboxPost) -> PendingDelivery:
        return cls(post.cursor, post.id, None if post.deleted else post.to_inbound())
