"""Linking an account by the network's own consent page: OAuth 2.0 Authorization Code
with PKCE (RFC 7636, S256), for networks whose gateway offers it (X).

``start`` makes a one-time ``state`` bound to the member and a PKCE verifier, and gives
the consent page's address; ``finish`` takes the ``state`` back once (from the same
member, before it expires), exchanges the code with the verifier, and links the account
the token belongs to, by its immutable id (money waiting for it is claimed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

import structlog

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import Identity
from envoi.services.context import Context
from envoi.services.members import Members
from envoi.services.ports import OAuthLinking, OAuthState, OAuthStateStore

log = structlog.get_logger(__name__)

STATE_TTL = timedelta(minutes=10)


def code_challenge(verifier: str) -> str:
    """S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthLinks:
    def __init__(self, ctx: Context, members: Members, states: OAuthStateStore) -> None:
        self.ctx = ctx
        self.members = members
        self.states = states

    def _gateway(self, network: str) -> OAuthLinking:
        gateway = self.ctx.gateway(network)
        if not isinstance(gateway, OAuthLinking):
            raise EnvoiError(ErrorCode.UNKNOWN_NETWORK, network=network, reason="no_oauth")
        return gateway

    def _hash(self, state: str) -> str:
        key = self.ctx.settings.token_key.get_secret_value().encode()
        return hmac.new(key, f"oauth-state:v1:{state}".encode(), hashlib.sha256).hexdigest()

    def redirect_uri(self, network: str) -> str:
        return self.ctx.url(f"/wallet/link/{network}/callback")

    def start(self, member_id: str, network: str) -> str:
        """The consent page to send the member's browser to."""
        gateway = self._gateway(network)
        state = secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within PKCE's 43-128
        now = self.ctx.clock.now()
        redirect_uri = self.redirect_uri(network)
        self.states.add(
            self._hash(state),
            OAuthState(member_id, network, verifier, redirect_uri, now, now + STATE_TTL),
        )
        log.info("link.oauth_started", member_id=member_id, network=network)
        return gateway.authorization_url(
            state=state, code_challenge=code_challenge(verifier), redirect_uri=redirect_uri
        )

    def finish(self, member_id: str, network: str, state: str, code: str) -> Identity:
        """Back from the consent page: link the account that said yes."""
        gateway = self._gateway(network)
        found = self.states.take(self._hash(state), self.ctx.clock.now())
        if found is None or found.member_id != member_id or found.network != network:
            # Unknown, used, expired, or started by someone else (a link sent to a victim).
            raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=network)
        token = gateway.exchange_code(
            code, code_verifier=found.code_verifier, redirect_uri=found.redirect_uri
        )
        return self.members.link_identity(member_id, network, token)
