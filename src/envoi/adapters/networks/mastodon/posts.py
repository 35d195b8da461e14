"""Mastodon entities (as Mastodon.py returns them) turned into envoi's network types."""

from __future__ import annotations

from datetime import datetime

from envoi.adapters.networks.mastodon.api import Entity, MastodonApi, entity_id
from envoi.adapters.networks.mastodon.content import status_text
from envoi.services.ports import InboundPost, NetworkUser

NETWORK = "mastodon"


def _aware(value: object) -> datetime | None:
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def account_user(api: MastodonApi, account: Entity) -> NetworkUser:
    """An ``Account``: its id on the bot's instance is the key, ``acct`` made full."""
    return NetworkUser(
        network=NETWORK,
        user_id=entity_id(account.id),
        handle=api.qualified(str(account.acct)),
        display_name=str(account.display_name or account.username),
        created_at=_aware(account.created_at),
    )


def mention_user(api: MastodonApi, mention: Entity) -> NetworkUser:
    """A status's ``mentions[]`` entry: ``{id, username, url, acct}``."""
    return NetworkUser(
        network=NETWORK,
        user_id=entity_id(mention.id),
        handle=api.qualified(str(mention.acct)),
        display_name=str(mention.username),
    )


def inbound_post(api: MastodonApi, status: Entity) -> InboundPost:
    """A status that mentions the bot (``direct`` visibility: a private message)."""
    author_acct = str(status.account.acct)
    author_domain = author_acct.split("@", 1)[1] if "@" in author_acct else None
    urls = {str(m.url): api.qualified(str(m.acct)) for m in status.mentions}
    reply_to = status.in_reply_to_id
    return InboundPost(
        network=NETWORK,
        post_id=entity_id(status.id),
        author=account_user(api, status.account),
        text=status_text(str(status.content), urls, author_domain=author_domain),
        direct=status.visibility == "direct",
        created_at=_aware(status.created_at),
        in_reply_to=entity_id(reply_to) if reply_to is not None else None,
        mentions=tuple(mention_user(api, m) for m in status.mentions),
    )
