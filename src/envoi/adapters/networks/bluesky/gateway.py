"""envoi acting on Bluesky as its bot: replies, direct messages, handle look-ups.

Replies carry strong references (URI + CID) to the thread's root and to the post they
answer, as Bluesky requires, and mention facets for the ``@handle``s they name, so the
people named are notified. Direct messages use ``chat.bsky.convo.*`` through the bot's PDS
(see ``session.py``). A direct message's id is ``chat:<convo id>:<message id>``; replying to
one answers in the same conversation, never in public.

Idempotency: a reply's record key is derived from its idempotency key, so a retry finds
the post already in the bot's repository and returns it instead of posting again. The
chat service takes no idempotency key: with a ``DmLog`` (envoi's database), a send is
recorded with the conversation's revision before it is made, and a retry whose outcome is
unknown (a crash between sending and recording) looks for the bot's message with the same
text after that revision, not recorded as another send's, before sending again. Without
one, direct messages are at least once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from envoi.adapters.networks.bluesky import NETWORK
from envoi.adapters.networks.bluesky.richtext import mention_facets
from envoi.adapters.networks.bluesky.session import (
    BlueskyUnavailableError,
    BotSession,
    is_not_found,
)
from envoi.adapters.networks.bluesky.store import DmSend
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.ports import NetworkUser

CHAT_PREFIX = "chat:"
# Bluesky refuses posts longer than 300 graphemes; envoi's answers stay well within, but a
# long display name could push one over: cut rather than lose the answer.
MAX_POST_CHARS = 300


# Record keys of posts are TIDs: 13 characters of this base32 alphabet (sortable).
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_TID_EPOCH_US = 1_672_531_200_000_000  # 2023-01-01: derived keys look like past TIDs
_TID_SPAN_US = 3 * 365 * 24 * 3600 * 1_000_000


def record_key(idempotency_key: str) -> str:
    """A valid TID derived from ``idempotency_key``: the same key, the same record."""
    digest = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:16], "big")
    micros = _TID_EPOCH_US + digest % _TID_SPAN_US
    clock_id = (digest >> 64) & 0x3FF
    value = (micros << 10) | clock_id  # the top bit stays 0, as a TID requires
    return "".join(_TID_CHARS[(value >> (60 - 5 * i)) & 31] for i in range(13))


def chat_id(convo_id: str, message_id: str) -> str:
    return f"{CHAT_PREFIX}{convo_id}:{message_id}"


def convo_of(post_id: str) -> str | None:
    if not post_id.startswith(CHAT_PREFIX):
        return None
    return post_id[len(CHAT_PREFIX) :].rsplit(":", 1)[0]


def _fit(text: str) -> str:
    return text if len(text) <= MAX_POST_CHARS else text[: MAX_POST_CHARS - 1] + "…"


class DmLog(Protocol):
    """Direct messages the bot started to send, by idempotency key (see the docstring)."""

    def dm_send(self, idempotency_key: str) -> DmSend | None: ...

    def start_dm_send(self, idempotency_key: str, convo_id: str, after_rev: str) -> None: ...

    def dm_sent(self, idempotency_key: str, message_id: str) -> None: ...

    def claimed_messages(self, convo_id: str) -> set[str]: ...


# How far back a retry looks for a message already sent (one page of getMessages).
RECENT_MESSAGES = 50


class BlueskyGateway:
    """``NetworkGateway`` for Bluesky."""

    name = NETWORK
    grammar = "bluesky"  # domain handles: @bob.bsky.social, @bob.example.fr

    def __init__(self, session: BotSession, dm_log: DmLog | None = None) -> None:
        self.session = session
        self.dm_log = dm_log
        # The bot as people write it: its handle (the settings' identifier).
        self.bot_handle = session.config.identifier.removeprefix("@").lower()

    # --- writing ------------------------------------------------------------------

    def reply(self, in_reply_to_post_id: str, text: str, *, idempotency_key: str) -> str:
        convo = convo_of(in_reply_to_post_id)
        if convo is not None:
            return self._send_in_convo(convo, text, idempotency_key, None)
        rkey = record_key(idempotency_key)
        sent = self._own_post(rkey)
        if sent is not None:  # a retry: the first attempt got through
            return sent
        parent = self._post_view(in_reply_to_post_id)
        parent_ref = {"uri": parent.uri, "cid": parent.cid}
        reply_of_parent = getattr(parent.record, "reply", None)
        root_ref = (
            {"uri": reply_of_parent.root.uri, "cid": reply_of_parent.root.cid}
            if reply_of_parent is not None
            else parent_ref
        )
        text = _fit(text)
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "reply": {"root": root_ref, "parent": parent_ref},
        }
        facets = mention_facets(text, self._did_of)
        if facets:
            record["facets"] = facets
        created = self.session.call(
            lambda: self.session.client().com.atproto.repo.create_record(
                {
                    "repo": self.session.did,
                    "collection": "app.bsky.feed.post",
                    "rkey": rkey,
                    "record": record,
                }
            )
        )
        return str(created.uri)

    def _own_post(self, rkey: str) -> str | None:
        try:
            found = self.session.call(
                lambda: self.session.client().com.atproto.repo.get_record(
                    {"repo": self.session.did, "collection": "app.bsky.feed.post", "rkey": rkey}
                )
            )
        except BlueskyUnavailableError as exc:
            if is_not_found(exc):
                return None
            raise
        return str(found.uri)

    def direct_message(self, to_user_id: str, text: str, *, idempotency_key: str) -> str:
        """Once per idempotency key with a ``DmLog``: see the module's docstring."""
        if self.dm_log is not None and (started := self.dm_log.dm_send(idempotency_key)):
            return self._send_in_convo(started.convo_id, text, idempotency_key, None)
        convo = self.session.call(
            lambda: self.session.chat().chat.bsky.convo.get_convo_for_members(
                {"members": [to_user_id]}
            )
        ).convo
        return self._send_in_convo(str(convo.id), text, idempotency_key, str(convo.rev))

    def _send_in_convo(self, convo_id: str, text: str, key: str, rev: str | None) -> str:
        log = self.dm_log
        if log is not None:
            started = log.dm_send(key)
            if started is not None and started.message_id is not None:
                return chat_id(started.convo_id, started.message_id)
            if started is not None:  # an earlier attempt's outcome is unknown
                found = self._already_sent(started, text)
                if found is not None:
                    log.dm_sent(key, found)
                    return chat_id(convo_id, found)
            else:
                if rev is None:
                    rev = str(self._convo(convo_id).rev)
                log.start_dm_send(key, convo_id, rev)
        message: dict[str, Any] = {"text": text}
        facets = mention_facets(text, self._did_of)
        if facets:
            message["facets"] = facets
        sent = self.session.call(
            lambda: self.session.chat().chat.bsky.convo.send_message(
                {"convoId": convo_id, "message": message}
            )
        )
        if log is not None:
            log.dm_sent(key, str(sent.id))
        return chat_id(convo_id, str(sent.id))

    def _convo(self, convo_id: str) -> Any:
        return self.session.call(
            lambda: self.session.chat().chat.bsky.convo.get_convo({"convoId": convo_id})
        ).convo

    def _already_sent(self, started: DmSend, text: str) -> str | None:
        """The bot's message with ``text`` sent after the send started, if one got through."""
        assert self.dm_log is not None
        page = self.session.call(
            lambda: self.session.chat().chat.bsky.convo.get_messages(
                {"convoId": started.convo_id, "limit": RECENT_MESSAGES}
            )
        )
        bot = self.session.did
        claimed = self.dm_log.claimed_messages(started.convo_id)
        candidates = [
            message
            for message in page.messages  # newest first
            if getattr(message, "text", None) == text
            and str(message.sender.did) == bot
            and str(message.rev) > started.after_rev
            and str(message.id) not in claimed
        ]
        return str(candidates[-1].id) if candidates else None  # the oldest: sent first

    # --- reading ------------------------------------------------------------------

    def _post_view(self, uri: str) -> Any:
        found = self.session.call(
            lambda: self.session.client().app.bsky.feed.get_posts({"uris": [uri]})
        )
        if not found.posts:
            raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=uri)
        return found.posts[0]

    def _did_of(self, handle: str) -> str | None:
        user = self.lookup_user(handle)
        return user.user_id if user else None

    def lookup_user(self, handle: str) -> NetworkUser | None:
        """The account holding ``handle`` now (its DID is what money follows), or None."""
        handle = handle.lstrip("@").lower()
        try:
            did = self.session.call(
                lambda: self.session.client().com.atproto.identity.resolve_handle(
                    {"handle": handle}
                )
            ).did
        except BlueskyUnavailableError as exc:
            if is_not_found(exc):
                return None
            raise
        # A brand-new account resolves (on its PDS) before the AppView has its profile:
        # the DID is what counts, the name can wait.
        return self.profile(str(did)) or NetworkUser(NETWORK, str(did), handle, handle)

    def profile(self, did: str) -> NetworkUser | None:
        try:
            found = self.session.call(
                lambda: self.session.client().app.bsky.actor.get_profile({"actor": did})
            )
        except BlueskyUnavailableError as exc:
            if is_not_found(exc):
                return None
            raise
        return as_user(found)

    def profiles(self, dids: list[str]) -> dict[str, NetworkUser]:
        """Current handle and name of each DID (25 per request, the AppView's limit)."""
        users: dict[str, NetworkUser] = {}
        for i in range(0, len(dids), 25):
            chunk = dids[i : i + 25]
            found = self.session.call(partial(self._get_profiles, chunk))
            for view in found.profiles:
                users[str(view.did)] = as_user(view)
        return users

    def _get_profiles(self, dids: list[str]) -> Any:
        return self.session.client().app.bsky.actor.get_profiles({"actors": dids})

    def verify_link(self, token: str) -> NetworkUser:
        """Bluesky accounts link by a one-time code sent to the bot, not by a token."""
        raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK)


def as_user(view: Any) -> NetworkUser:
    handle = str(view.handle)
    return NetworkUser(NETWORK, str(view.did), handle, str(view.display_name or handle))
