"""envoi acting on Mastodon as its bot: replies, direct statuses, look-ups, linking.

A reply keeps the visibility of the status it answers (a direct status is answered by a
direct status, a followers-only one followers-only: never more public), is threaded with
``in_reply_to_id`` and mentions the author, so it reaches them. Mastodon has no private
message apart from a ``direct`` status, which reaches exactly the accounts it mentions:
``direct_message`` is one, addressed to the account's full ``@user@instance``.

``idempotency_key`` is sent as Mastodon's ``Idempotency-Key`` header: a retried send
within the hour Mastodon keeps keys for answers with the first status (the outbox's retries
of a row all fall well inside that hour).
"""

from __future__ import annotations

from envoi.adapters.networks.mastodon.api import (
    MastodonApi,
    NotOnMastodonError,
    entity_id,
)
from envoi.adapters.networks.mastodon.posts import NETWORK, account_user
from envoi.commands.handles import MASTODON
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.ports import NetworkUser

# Most public first; a reply never goes further than what it answers.
VISIBILITIES = ("public", "unlisted", "private", "direct")


class MastodonGateway:
    """``NetworkGateway`` for Mastodon."""

    name = NETWORK
    grammar = "mastodon"

    def __init__(self, api: MastodonApi) -> None:
        self.api = api
        self._bot: NetworkUser | None = None

    @property
    def bot(self) -> NetworkUser:
        """The bot's account (asked of the instance once)."""
        if self._bot is None:
            me = self.api.call(self.api.client.account_verify_credentials)
            self._bot = account_user(self.api, me)
        return self._bot

    @property
    def bot_handle(self) -> str:
        return self.bot.handle

    def reply(self, in_reply_to_post_id: str, text: str, *, idempotency_key: str) -> str:
        try:
            original = self.api.call(self.api.client.status, in_reply_to_post_id)
        except NotOnMastodonError:
            raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=in_reply_to_post_id) from None
        visibility = str(original.visibility)
        if visibility not in VISIBILITIES:  # an unknown newer kind: the most private
            visibility = "direct"
        author = self.api.qualified(str(original.account.acct))
        status = self.api.call(
            self.api.client.status_post,
            _addressed(author, text),
            in_reply_to_id=original.id,
            visibility=visibility,
            idempotency_key=idempotency_key,
        )
        return entity_id(status.id)

    def direct_message(self, to_user_id: str, text: str, *, idempotency_key: str) -> str:
        try:
            account = self.api.call(self.api.client.account, to_user_id)
        except NotOnMastodonError:
            raise EnvoiError(ErrorCode.NETWORK_USER_NOT_FOUND, handle=to_user_id) from None
        status = self.api.call(
            self.api.client.status_post,
            _addressed(self.api.qualified(str(account.acct)), text),
            visibility="direct",
            idempotency_key=idempotency_key,
        )
        return entity_id(status.id)

    def lookup_user(self, handle: str) -> NetworkUser | None:
        """``bob@instance`` (or a bare ``bob``: an account of the bot's instance)."""
        acct = handle.strip().removeprefix("@")
        if not MASTODON.is_handle(acct):
            return None
        try:
            account = self.api.call(self.api.client.account_lookup, acct)
        except NotOnMastodonError:
            return None
        return account_user(self.api, account)

    def verify_link(self, token: str) -> NetworkUser:
        raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK)


def _addressed(acct: str, text: str) -> str:
    """``text`` starting with ``@acct`` unless it names that account already."""
    key = MASTODON.key(acct)
    if any(t.proper and MASTODON.key(t.run) == key for t in MASTODON.scan(text)):
        return text
    return f"@{acct} {text}"
