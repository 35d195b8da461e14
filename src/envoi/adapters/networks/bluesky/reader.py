"""What reaches the bot on Bluesky, as ``NetworkReader`` batches with one stored cursor.

Three sources, one cursor (a small JSON object):

- Mentions come from the bot's notifications (``app.bsky.notification.listNotifications``,
  newest first, paged backwards): a read pages back to the mark (``n``: the ``indexedAt``
  of the newest notification already stored) and returns what is newer, oldest first.
  Notifications at the mark itself are returned again: storing is idempotent per post,
  and a tie never loses one.
- Direct messages come from the chat service's event log (``chat.bsky.convo.getLog``),
  whose cursor (``c``) runs forwards.
- Deletions: Bluesky does not notify them, so the posts read are watched (``w``: post URI
  -> until when) for as long as a payment they opened can await confirmation, and a post
  the AppView no longer returns is reported deleted (its payment, if still awaiting, is
  cancelled: a post that vanished never pays).

The payee is whoever a mention facet points at (a DID), never the text alone; the handle
recorded with it is the one the author wrote, so it agrees with the text the parser reads
even if the account has been renamed since (a typed handle that disagrees with the facet
makes two payees, which is refused).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import structlog

from envoi.adapters.networks.bluesky import NETWORK
from envoi.adapters.networks.bluesky.gateway import BlueskyGateway, as_user, chat_id
from envoi.adapters.networks.bluesky.richtext import mentions_in
from envoi.adapters.networks.bluesky.session import BotSession
from envoi.commands import COMMAND_HASHTAGS
from envoi.services.ports import InboundPost, NetworkEvent, NetworkUser, ReadBatch

log = structlog.get_logger(__name__)

POST = "app.bsky.feed.post"
CREATE_MESSAGE = "chat.bsky.convo.defs#logCreateMessage"
MESSAGE_VIEW = "chat.bsky.convo.defs#messageView"
# Reasons that may carry a command: a post naming the bot, or answering one of its posts.
READ_REASONS = frozenset({"mention", "reply"})
# getPosts takes 25 URIs; a bounded watch list keeps the cursor small under a flood.
MAX_WATCHED = 2000


def _may_be_a_command(text: str) -> bool:
    """Only posts that may have opened a payment are watched for deletion (the parser
    decides; this cheap check only keeps chatter out of the watch list)."""
    lowered = text.lower()
    return any(f"#{tag}" in lowered for tag in COMMAND_HASHTAGS)


def _when(value: Any) -> datetime | None:
    try:
        found = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


class BlueskyReader:
    name = NETWORK

    def __init__(
        self,
        session: BotSession,
        gateway: BlueskyGateway,
        *,
        watch: timedelta = timedelta(minutes=20),
        poll_s: float = 2.0,
        deletion_check: timedelta = timedelta(seconds=15),
        page_size: int = 50,
    ) -> None:
        self.session, self.gateway = session, gateway
        self.watch = watch
        # getPosts costs one request per 25 watched posts: not on every 2-second read.
        self.deletion_check = deletion_check
        self.poll_s = poll_s
        self.page_size = page_size

    def read(self, cursor: str | None, wait_s: float) -> ReadBatch:
        """Everything new since ``cursor``; raises ``BlueskyUnavailableError`` on an outage.

        Bluesky has no long poll: when nothing came, the read pauses ``poll_s`` (at most
        ``wait_s``) before returning, so the loop does not hammer the AppView."""
        batch = self._read(cursor)
        if not batch.events and wait_s > 0:
            time.sleep(min(self.poll_s, wait_s))
        return batch

    def _read(self, cursor: str | None) -> ReadBatch:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        now = datetime.now(UTC)
        bot = self.session.did
        events: list[NetworkEvent] = []

        watched: dict[str, str] = {
            uri: until for uri, until in state.get("w", {}).items() if (_when(until) or now) > now
        }
        checked = _when(state.get("d")) if state.get("d") else None
        if watched and (checked is None or now - checked >= self.deletion_check):
            for uri in self._gone(list(watched)):
                events.append(NetworkEvent(deleted_post_id=uri))
                del watched[uri]
            checked = now

        notifications, mark, at_mark = self._notifications_since(
            state.get("n"), set(state.get("s", []))
        )
        until = (now + self.watch).isoformat()
        for notification in notifications:
            post = self._post_of(notification, bot)
            if post is not None:
                events.append(NetworkEvent(post=post))
                if _may_be_a_command(post.text):
                    watched.setdefault(post.post_id, until)

        messages, chat_cursor = self._messages_since(state.get("c"), bot)
        events.extend(NetworkEvent(post=post) for post in messages)

        if len(watched) > MAX_WATCHED:  # keep the newest
            watched = dict(sorted(watched.items(), key=lambda kv: kv[1])[-MAX_WATCHED:])
        new_state = {
            "n": mark,
            "s": at_mark,
            "c": chat_cursor,
            "w": watched,
            "d": checked.isoformat() if checked else None,
        }
        return ReadBatch(tuple(events), json.dumps(new_state, sort_keys=True))

    # --- mentions -----------------------------------------------------------------

    def _notifications_since(
        self, mark: str | None, seen: set[str]
    ) -> tuple[list[Any], str | None, list[str]]:
        """Notifications after the mark, oldest first; the new mark; the URIs at it.

        Those at the mark itself are read again unless already seen there (``seen``): a
        notification indexed in the same millisecond after the last read is not lost."""
        mark_at = _when(mark) if mark else None
        newer: list[Any] = []
        page_cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": self.page_size}
            if page_cursor:
                params["cursor"] = page_cursor
            page = self.session.call(partial(self._list_notifications, params))
            reached_mark = False
            for notification in page.notifications:
                at = _when(notification.indexed_at)
                if mark_at is not None and at is not None and at < mark_at:
                    reached_mark = True
                    break
                if not (at == mark_at and str(notification.uri) in seen):
                    newer.append(notification)
            if reached_mark or not page.cursor or not page.notifications:
                break
            page_cursor = page.cursor
        newer.sort(key=lambda n: _when(n.indexed_at) or datetime.min.replace(tzinfo=UTC))
        if not newer:
            return [], mark, sorted(seen)
        new_mark = str(newer[-1].indexed_at)
        at_new_mark = {str(n.uri) for n in newer if n.indexed_at == newer[-1].indexed_at}
        if _when(new_mark) == mark_at:
            at_new_mark |= seen
        return newer, new_mark, sorted(at_new_mark)

    def _list_notifications(self, params: dict[str, Any]) -> Any:
        return self.session.client().app.bsky.notification.list_notifications(params)

    def _get_posts(self, uris: list[str]) -> Any:
        return self.session.client().app.bsky.feed.get_posts({"uris": uris})

    def _get_log(self, params: dict[str, Any]) -> Any:
        return self.session.chat().chat.bsky.convo.get_log(params)

    def _post_of(self, notification: Any, bot: str) -> InboundPost | None:
        record = notification.record
        if notification.reason not in READ_REASONS or str(notification.author.did) == bot:
            return None
        if getattr(record, "py_type", None) != POST:
            return None
        text = str(record.text or "")
        reply = getattr(record, "reply", None)
        return InboundPost(
            network=NETWORK,
            post_id=str(notification.uri),
            author=as_user(notification.author),
            text=text,
            created_at=_when(record.created_at),
            in_reply_to=str(reply.parent.uri) if reply is not None else None,
            mentions=self._mentioned(text, record.facets),
        )

    def _mentioned(self, text: str, facets: Any) -> tuple[NetworkUser, ...]:
        found = mentions_in(text, facets)
        if not found:
            return ()
        profiles = self.gateway.profiles(sorted({m.did for m in found}))
        users: list[NetworkUser] = []
        for mention in found:
            profile = profiles.get(mention.did)
            name = profile.display_name if profile else mention.handle
            # The DID is who is meant; the handle is the one written, which the parser saw.
            users.append(NetworkUser(NETWORK, mention.did, mention.handle, name))
        return tuple(users)

    def _gone(self, uris: list[str]) -> list[str]:
        """The watched posts the AppView no longer has."""
        gone: list[str] = []
        for i in range(0, len(uris), 25):
            chunk = uris[i : i + 25]
            found = self.session.call(partial(self._get_posts, chunk))
            present = {str(post.uri) for post in found.posts}
            gone.extend(uri for uri in chunk if uri not in present)
        return gone

    # --- direct messages ---------------------------------------------------------

    def _messages_since(self, cursor: str | None, bot: str) -> tuple[list[InboundPost], str | None]:
        posts: list[InboundPost] = []
        while True:
            params: dict[str, Any] = {"cursor": cursor} if cursor else {}
            page = self.session.call(partial(self._get_log, params))
            created = [
                entry
                for entry in page.logs
                if getattr(entry, "py_type", None) == CREATE_MESSAGE
                and getattr(entry.message, "py_type", None) == MESSAGE_VIEW
                and str(entry.message.sender.did) != bot
            ]
            posts.extend(self._direct_posts(created))
            if not page.logs or not page.cursor or page.cursor == cursor:
                return posts, cursor
            cursor = str(page.cursor)

    def _direct_posts(self, entries: list[Any]) -> list[InboundPost]:
        if not entries:
            return []
        senders = self.gateway.profiles(sorted({str(e.message.sender.did) for e in entries}))
        posts = []
        for entry in entries:
            message = entry.message
            sender = str(message.sender.did)
            author = senders.get(sender) or NetworkUser(NETWORK, sender, sender, sender)
            text = str(message.text or "")
            posts.append(
                InboundPost(
                    network=NETWORK,
                    post_id=chat_id(str(entry.convo_id), str(message.id)),
                    author=author,
                    text=text,
                    direct=True,
                    created_at=_when(message.sent_at),
                    mentions=self._mentioned(text, getattr(message, "facets", None)),
                )
            )
        return posts
