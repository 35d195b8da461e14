"""What envoi does on X: public replies (never with a URL), DMs, user lookups, linking.

X takes no idempotency key, so the key envoi passes is kept in ``x_sends`` before each
call, with the remote id once X answers. A retry with the same key returns that id; a
retry after a crash between X's answer and the record (or after a timeout) first looks
for the message among the bot's own recent posts or the conversation's messages, and
sends only if it is not there: a reply is never lost and never doubled.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine, delete, select, update

from envoi.adapters.db.rows import insert_once, utc
from envoi.adapters.networks.x.api import XApi, XApiError, XOAuth
from envoi.adapters.networks.x.payloads import NETWORK, unescape, user_v2
from envoi.adapters.networks.x.tables import x_sends
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.ports import Clock, NetworkBusy, NetworkUser

log = structlog.get_logger(__name__)

# What X turns into a link (and bills $0.20 a post for): a scheme, "www.", or a bare
# domain name with a path or a known-looking top-level domain, as twitter-text autolinks.
_URL = re.compile(
    r"(?:https?://|www\.)\S+|(?<![@\w.])(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?",
    re.IGNORECASE,
)


def public_text(text: str) -> str:
    """``text`` without anything X would link: claim and confirm links go by DM or in
    the wallet, never in a public reply."""
    stripped = _URL.sub("", text)
    stripped = re.sub(r"[ \t]+([:.,;!?])(?=\s|$)", r"\1", stripped)  # "wallet :" left behind
    stripped = re.sub(r"\s*[:：]\s*$", ".", stripped.rstrip())  # a line that pointed to a link
    return re.sub(r"[ \t]{2,}", " ", stripped).strip()


def contains_url(text: str) -> bool:
    return _URL.search(text) is not None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class XGateway:
    """``NetworkGateway`` for X. ``grammar`` is twitter-text's (``@bob``, 15 characters)."""

    name = NETWORK
    grammar = "x"

    def __init__(
        self,
        api: XApi,
        engine: Engine,
        clock: Clock,
        *,
        bot_handle: str,
        bot_user_id: str,
        oauth: XOAuth,
    ) -> None:
        self.api = api
        self.oauth = oauth
        self.engine = engine
        self.clock = clock
        self.bot_handle = bot_handle
        self.bot_user_id = bot_user_id

    # --- writing -------------------------------------------------------------------

    def reply(self, in_reply_to_post_id: str, text: str, *, idempotency_key: str) -> str:
        text = public_text(text)
        return self._send("reply", in_reply_to_post_id, text, idempotency_key)

    def direct_message(self, to_user_id: str, text: str, *, idempotency_key: str) -> str:
        return self._send("dm", to_user_id, text, idempotency_key)

    def _send(self, kind: str, target: str, text: str, key: str) -> str:
        now = self.clock.now()
        with self.engine.begin() as conn:
            fresh = insert_once(
                conn,
                x_sends,
                {
                    "idempotency_key": key,
                    "kind": kind,
                    "target": target,
                    "text_sha256": _digest(text),
                    "started_at": utc(now),
                },
            )
            row = conn.execute(select(x_sends).where(x_sends.c.idempotency_key == key)).first()
        assert row is not None
        if row.remote_id is not None:
            return str(row.remote_id)  # sent and recorded: the same answer again
        if not fresh:
            # A previous try may have reached X without being recorded: look before sending.
            found = self._find_sent(kind, target, text, row.started_at)
            if found is not None:
                log.info("x.send_recovered", kind=kind, key=key, remote_id=found)
                return self._record(key, found)
        try:
            remote_id = (
                self.api.create_reply(target, text)
                if kind == "reply"
                else self.api.send_dm(target, text)
            )
        except XApiError as exc:
            if exc.duplicate:
                found = self._find_sent(kind, target, text, row.started_at)
                if found is not None:
                    return self._record(key, found)
            if exc.status >= 500:
                raise ConnectionError(str(exc)) from exc  # it may have gone out: look next time
            self._forget(key)  # X refused it: nothing went out
            if exc.target_gone and kind == "reply":
                raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=target) from exc
            raise RuntimeError(str(exc)) from exc
        except NetworkBusy:
            self._forget(key)  # rate limited or over budget: nothing went out either
            raise
        # A timeout or a broken connection may have sent it: the row stays, and the
        # retry looks first.
        return self._record(key, remote_id)

    def _record(self, key: str, remote_id: str) -> str:
        with self.engine.begin() as conn:
            conn.execute(
                update(x_sends).where(x_sends.c.idempotency_key == key).values(remote_id=remote_id)
            )
        return remote_id

    def _forget(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(x_sends).where(
                    x_sends.c.idempotency_key == key, x_sends.c.remote_id.is_(None)
                )
            )

    def _find_sent(self, kind: str, target: str, text: str, since: datetime) -> str | None:
        started = since if since.tzinfo else since.replace(tzinfo=UTC)
        if kind == "reply":
            for post in self.api.recent_posts(self.bot_user_id, started):
                refs = post.get("referenced_tweets") or ()
                replied = any(
                    r.get("type") == "replied_to" and str(r.get("id")) == target for r in refs
                )
                if replied and unescape(str(post.get("text", ""))) == text:
                    return str(post["id"])
            return None
        for event in self.api.conversation_events(target):
            if (
                str(event.get("sender_id")) == self.bot_user_id
                and unescape(str(event.get("text", ""))) == text
            ):
                return str(event["id"])
        return None

    # --- reading people ---------------------------------------------------------------

    def lookup_user(self, handle: str) -> NetworkUser | None:
        found = self.api.user_by_username(handle.removeprefix("@"))
        return user_v2(found) if found else None

    # --- linking by OAuth 2.0 Authorization Code + PKCE -------------------------------

    def authorization_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        return self.oauth.authorization_url(state, code_challenge, redirect_uri)

    def exchange_code(self, code: str, *, code_verifier: str, redirect_uri: str) -> str:
        try:
            return self.oauth.exchange(code, code_verifier, redirect_uri)
        except XApiError as exc:
            raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK) from exc

    def verify_link(self, token: str) -> NetworkUser:
        """``token`` is an OAuth 2.0 user access token (from the PKCE flow): its owner."""
        try:
            return user_v2(self.api.me(token))
        except XApiError as exc:
            raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK) from exc
