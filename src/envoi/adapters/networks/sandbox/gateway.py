"""envoi acting on the sandbox network as its bot: replies, DMs, look-ups, account linking."""

from __future__ import annotations

from envoi.adapters.networks.sandbox import text as txt
from envoi.adapters.networks.sandbox.store import NETWORK, SandboxAccount, SandboxNetwork
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.ports import NetworkUser


class SandboxGateway:
    """``NetworkGateway`` for the sandbox network; posts go straight into its store."""

    name = NETWORK
    grammar = "x"  # the sandbox writes people as X does

    def __init__(self, network: SandboxNetwork, bot_handle: str) -> None:
        # The store decides which posts reach the bot; both must mean the same account.
        if txt.handle_key(bot_handle) != txt.handle_key(network.bot_handle):
            raise ValueError(f"bot handle {bot_handle!r} != network's {network.bot_handle!r}")
        self.network = network
        self.bot_handle = bot_handle
        self._bot: SandboxAccount | None = None

    def ensure_bot_account(self) -> NetworkUser:
        return self._bot_account().as_network_user()

    def _bot_account(self) -> SandboxAccount:
        if self._bot is None:
            self._bot = self.network.ensure_bot_account()
        return self._bot

    def reply(self, in_reply_to_post_id: str, text: str, *, idempotency_key: str) -> str:
        """A public reply by the bot. Replying to a direct message stays a direct message
        to its author: an answer must never make a private exchange public. The sandbox
        honours ``idempotency_key``: a retried send returns the first post's id."""
        bot = self._bot_account()
        sent = self.network.posted_with_key(bot.id, idempotency_key)
        if sent is not None:  # already sent (the original may be gone since: no matter)
            return sent.id
        original = self.network.get_post(in_reply_to_post_id, viewer_id=bot.id)
        if original is None:
            raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=in_reply_to_post_id)
        if original.visibility == "direct":
            return self.network.post(
                bot.id,
                text,
                visibility="direct",
                in_reply_to=original.id,
                to_user_id=original.author.id,
                idempotency_key=idempotency_key,
            ).id
        return self.network.post(
            bot.id, text, in_reply_to=original.id, idempotency_key=idempotency_key
        ).id

    def direct_message(self, to_user_id: str, text: str, *, idempotency_key: str) -> str:
        bot = self._bot_account()
        return self.network.post(
            bot.id,
            text,
            visibility="direct",
            to_user_id=to_user_id,
            idempotency_key=idempotency_key,
        ).id

    def lookup_user(self, handle: str) -> NetworkUser | None:
        found = self.network.get_by_handle(handle)
        return found.as_network_user() if found else None

    def verify_link(self, token: str) -> NetworkUser:
        """The sandbox's proof of ownership is the account's own token (like an OAuth code)."""
        account = self.network.authenticate(token)
        if account is None:
            raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK)
        return account.as_network_user()
