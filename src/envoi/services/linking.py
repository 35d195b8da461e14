"""Linking a network account by proof of ownership: the member asks for a one-time code in
the wallet, then sends it to the bot from that account (a DM, or a mention).

Every network has messages, so this works on all of them; the code is bound to the
account's immutable id, fixed when the challenge is made, so a code read over someone's
shoulder or a handle that changes hands links nobody else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import structlog

from envoi.commands.handles import grammar_for
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import render
from envoi.domain.model import Identity, LinkChallenge
from envoi.services.context import Context
from envoi.services.ports import InboundPost
from envoi.services.secrets import new_id
from envoi.services.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

CHALLENGE_TTL = timedelta(minutes=30)
# Crockford's base32 (no I, L, O, U): read aloud or retyped without confusion.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE = re.compile(r"(?<![A-Za-z0-9])ENVOI-([0-9A-Za-z]{4})-([0-9A-Za-z]{4})(?![A-Za-z0-9])", re.I)


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    """A new challenge and its code: the only time the code is seen in clear."""

    challenge: LinkChallenge
    code: str
    bot_handle: str  # where to send it, as the network writes the bot


def _new_code() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"ENVOI-{chars[:4]}-{chars[4:]}"


def find_code(text: str) -> str | None:
    """The first link code in a message, normalised (case, the usual misreadings)."""
    match = _CODE.search(text)
    if match is None:
        return None
    raw = (match.group(1) + match.group(2)).upper().translate(str.maketrans("ILO", "110"))
    return f"ENVOI-{raw[:4]}-{raw[4:]}"


class Linking:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _digest(self, code: str) -> str:
        # Keyed: the table alone does not tell which messages would link.
        key = self.ctx.settings.token_key.get_secret_value().encode()
        return hmac.new(key, f"link:v1:{code}".encode(), hashlib.sha256).hexdigest()

    def start(self, member_id: str, network: str, handle: str) -> IssuedChallenge:
        """A code for ``member_id`` to send from ``handle`` on ``network``."""
        gateway = self.ctx.gateway(network)
        grammar = grammar_for(gateway.grammar)
        handle = handle.strip().removeprefix("@")
        if not grammar.is_handle(handle):
            raise EnvoiError(ErrorCode.INVALID_HANDLE, handle=handle[:100], network=network)
        # Network I/O before the transaction: who holds this handle now.
        user = gateway.lookup_user(handle)
        if user is None:
            raise EnvoiError(ErrorCode.NETWORK_USER_NOT_FOUND, handle=handle, network=network)
        now = self.ctx.clock.now()
        code = _new_code()
        challenge = LinkChallenge(
            id=new_id("lch"),
            member_id=member_id,
            network=network,
            network_user_id=user.user_id,
            handle=user.handle,
            created_at=now,
            expires_at=now + CHALLENGE_TTL,
        )
        with self.ctx.uow() as uow:
            if uow.identities.member_for(network, user.user_id) is not None:
                raise EnvoiError(ErrorCode.IDENTITY_ALREADY_LINKED)
            uow.challenges.add(challenge, self._digest(code))
            uow.commit()
        log.info("link.challenge", member_id=member_id, network=network, challenge=challenge.id)
        return IssuedChallenge(challenge, code, gateway.bot_handle)

    def receive_code(self, post: InboundPost) -> bool:
        """If ``post`` carries a link code, act on it and return True (it is no command)."""
        code = find_code(post.text)
        if code is None:
            return False
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            if not uow.posts.add_once(post, now):
                return True  # the same message again: it was answered the first time
            challenge = uow.challenges.by_code(self._digest(code))
            outcome = self._judge(uow, post, challenge)
            uow.posts.set_outcome(post.network, post.post_id, outcome, None)
            uow.commit()
        log.info("link.code", network=post.network, post_id=post.post_id, outcome=outcome)
        return True

    def _judge(self, uow: UnitOfWork, post: InboundPost, challenge: LinkChallenge | None) -> str:
        now = self.ctx.clock.now()
        valid = (
            challenge is not None
            and challenge.network == post.network
            # Matched by immutable id: the account the code was made for, renamed or not.
            and challenge.network_user_id == post.author.user_id
            and challenge.used_at is None
            and now < challenge.expires_at
        )
        if not valid or challenge is None:
            self._answer(uow, post, "link_refused", self.ctx.settings.default_locale)
            return "link_refused"
        member = uow.members.get(challenge.member_id)
        assert member is not None
        identity = Identity(
            id=new_id("idn"),
            member_id=member.id,
            network=post.network,
            network_user_id=post.author.user_id,
            handle=post.author.handle,
            display_name=post.author.display_name,
            linked_at=now,
        )
        if not uow.challenges.use(challenge.id, now) or not uow.identities.add(identity):
            self._answer(uow, post, "link_refused", member.locale)
            return ErrorCode.IDENTITY_ALREADY_LINKED.value
        from envoi.services.lifecycle import Lifecycle

        claimed = Lifecycle(self.ctx).claim_for(uow, member, post.network, post.author.user_id)
        uow.notices.notify(
            member.id,
            "identity_linked",
            {"network": post.network, "handle": post.author.handle},
            intent_id=None,
            now=now,
        )
        self._answer(uow, post, "identity_linked", member.locale)
        log.info("identity.linked", member_id=member.id, network=post.network, claimed=claimed)
        return "identity_linked"

    def _answer(self, uow: UnitOfWork, post: InboundPost, key: str, locale: str) -> None:
        """Answered by DM whatever way the code came: it concerns that person only."""
        text = render(
            key,
            "en" if locale == "en" else "fr",
            network=post.network,
            handle=post.author.handle,
            url=self.ctx.url("/wallet/link"),
        )
        uow.notices.enqueue(
            kind="dm",
            network=post.network,
            target=post.author.user_id,
            text=text,
            dedupe_key=f"link:{post.network}:{post.post_id}",
            now=self.ctx.clock.now(),
        )


def instructions(issued: IssuedChallenge, network: str, locale: str) -> str:
    """Exactly what to send, and where, in the member's language."""
    return render(
        "link_instructions",
        "en" if locale == "en" else "fr",
        code=issued.code,
        bot=issued.bot_handle,
        network=network,
        minutes=int(CHALLENGE_TTL.total_seconds() // 60),
    )
