"""X's JSON, in its documented shapes, turned into what envoi's intake takes.

Two families: the Account Activity webhook (``tweet_create_events``,
``direct_message_events``, ``tweet_delete_events``: v1.1 objects whose mentions carry
``user_mentions[].id_str``) and API v2 reads used to catch up (``/2/users/:id/mentions``
posts whose ``entities.mentions[]`` carry ``id``; ``/2/dm_events``). Either way the payee
is matched by the numeric user id X resolved, never by the handle alone.

Left out: the bot's own posts and DMs, retweets (never a command), payloads for another
account than the bot's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from envoi.services.ports import InboundPost, NetworkEvent, NetworkUser

NETWORK = "x"
_V1_DATE = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"

Json = Mapping[str, Any]


def unescape(text: str) -> str:
    """X escapes these three in post text (and only these): ``&amp;`` last."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _v1_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, _V1_DATE).astimezone(UTC)
    except ValueError:
        return None


def _iso_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _ms_date(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _user_v1(user: Json) -> NetworkUser:
    created = _v1_date(user.get("created_at")) or _ms_date(user.get("created_timestamp"))
    return NetworkUser(
        NETWORK,
        str(user.get("id_str") or user["id"]),
        str(user["screen_name"]),
        str(user.get("name") or user["screen_name"]),
        created_at=created,
    )


def user_v2(user: Json) -> NetworkUser:
    return NetworkUser(
        NETWORK,
        str(user["id"]),
        str(user["username"]),
        str(user.get("name") or user["username"]),
        created_at=_iso_date(user.get("created_at")),
    )


def _mentions_v1(entities: object) -> tuple[NetworkUser, ...]:
    found: dict[str, NetworkUser] = {}
    listed = entities.get("user_mentions") if isinstance(entities, dict) else None
    for item in listed or ():
        user_id = str(item.get("id_str") or item.get("id") or "")
        if user_id and item.get("screen_name"):
            found.setdefault(
                user_id,
                NetworkUser(
                    NETWORK, user_id, item["screen_name"], item.get("name") or item["screen_name"]
                ),
            )
    return tuple(found.values())


# --- Account Activity webhook ------------------------------------------------------------


def webhook_events(payload: Json, bot_user_id: str) -> list[NetworkEvent]:
    """The posts for the bot and the deletions in one webhook delivery, in order."""
    if str(payload.get("for_user_id", "")) != bot_user_id:
        return []  # a subscription for another account: not ours to act on
    events: list[NetworkEvent] = []
    for status in payload.get("tweet_create_events") or ():
        post = _status(status, bot_user_id)
        if post is not None:
            events.append(NetworkEvent(post=post))
    users = payload.get("users") or {}
    for event in payload.get("direct_message_events") or ():
        post = _dm_v1(event, users, bot_user_id)
        if post is not None:
            events.append(NetworkEvent(post=post))
    for deletion in payload.get("tweet_delete_events") or ():
        status = deletion.get("status") or {}
        if status.get("id") is not None:
            events.append(NetworkEvent(deleted_post_id=str(status["id"])))
    return events


def _status(status: Json, bot_user_id: str) -> InboundPost | None:
    author = _user_v1(status["user"])
    if author.user_id == bot_user_id or status.get("retweeted_status") is not None:
        return None
    extended = status.get("extended_tweet") or {}
    text = extended.get("full_text") or status.get("full_text") or status.get("text") or ""
    entities = extended.get("entities") or status.get("entities")
    return InboundPost(
        network=NETWORK,
        post_id=str(status["id_str"]),
        author=author,
        text=unescape(str(text)),
        created_at=_v1_date(status.get("created_at")),
        in_reply_to=status.get("in_reply_to_status_id_str"),
        mentions=_mentions_v1(entities),
    )


def _dm_v1(event: Json, users: Json, bot_user_id: str) -> InboundPost | None:
    if event.get("type") != "message_create":
        return None
    create = event.get("message_create") or {}
    sender_id = str(create.get("sender_id", ""))
    if not sender_id or sender_id == bot_user_id:
        return None  # what the bot itself sent
    if str((create.get("target") or {}).get("recipient_id", "")) != bot_user_id:
        return None
    sender = users.get(sender_id)
    if sender is None:
        return None  # X always includes the users of the event; without it, who wrote?
    data = create.get("message_data") or {}
    return InboundPost(
        network=NETWORK,
        post_id=str(event["id"]),
        author=_user_v1(sender),
        text=unescape(str(data.get("text") or "")),
        direct=True,
        created_at=_ms_date(event.get("created_timestamp")),
        mentions=_mentions_v1(data.get("entities")),
    )


# --- API v2 reads (catch-up) -------------------------------------------------------------


def _includes_users(body: Json) -> dict[str, NetworkUser]:
    users = (body.get("includes") or {}).get("users") or ()
    return {str(u["id"]): user_v2(u) for u in users}


def mention_posts(body: Json, bot_user_id: str) -> Iterator[InboundPost]:
    """Posts of a ``/2/users/:id/mentions`` page (with ``expansions=author_id``)."""
    users = _includes_users(body)
    for item in body.get("data") or ():
        author_id = str(item.get("author_id", ""))
        if author_id == bot_user_id or author_id not in users:
            continue
        if any(r.get("type") == "retweeted" for r in item.get("referenced_tweets") or ()):
            continue
        refs = item.get("referenced_tweets") or ()
        replied = [r["id"] for r in refs if r.get("type") == "replied_to"]
        mentions: dict[str, NetworkUser] = {}
        for m in (item.get("entities") or {}).get("mentions") or ():
            if m.get("id") and m.get("username"):
                known = users.get(str(m["id"]))
                mentions.setdefault(
                    str(m["id"]),
                    known or NetworkUser(NETWORK, str(m["id"]), m["username"], m["username"]),
                )
        yield InboundPost(
            network=NETWORK,
            post_id=str(item["id"]),
            author=users[author_id],
            text=unescape(str(item.get("text") or "")),
            created_at=_iso_date(item.get("created_at")),
            in_reply_to=str(replied[0]) if replied else None,
            mentions=tuple(mentions.values()),
        )


def dm_posts(body: Json, bot_user_id: str) -> Iterator[InboundPost]:
    """Messages sent to the bot in a ``/2/dm_events`` page (with ``expansions=sender_id``)."""
    users = _includes_users(body)
    for item in body.get("data") or ():
        sender_id = str(item.get("sender_id", ""))
        if item.get("event_type") != "MessageCreate" or sender_id == bot_user_id:
            continue
        conversation = str(item.get("dm_conversation_id", ""))
        if sorted(conversation.split("-")) != sorted([sender_id, bot_user_id]):
            continue  # a group conversation: commands come one to one
        if sender_id not in users:
            continue
        yield InboundPost(
            network=NETWORK,
            post_id=str(item["id"]),
            author=users[sender_id],
            text=unescape(str(item.get("text") or "")),
            direct=True,
            created_at=_iso_date(item.get("created_at")),
        )


def snowflake_at(when: datetime) -> int:
    """The smallest X id made at ``when`` (ids are time-ordered snowflakes)."""
    twitter_epoch_ms = 1288834974657
    return max(0, int(when.timestamp() * 1000) - twitter_epoch_ms) << 22
