"""``OAuthStateStore`` on the database: short transactions of their own, never around I/O."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select, update

from envoi.adapters.db.oauth_tables import oauth_link_states as states
from envoi.adapters.db.rows import aware, utc
from envoi.services.ports import OAuthState


class SqlOAuthStates:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, state_hash: str, state: OAuthState) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                states.insert().values(
                    state_hash=state_hash,
                    member_id=state.member_id,
                    network=state.network,
                    code_verifier=state.code_verifier,
                    redirect_uri=state.redirect_uri,
                    created_at=utc(state.created_at),
                    expires_at=utc(state.expires_at),
                )
            )

    def take(self, state_hash: str, now: datetime) -> OAuthState | None:
        with self.engine.begin() as conn:
            # One UPDATE decides: of two callbacks with the same state, one wins.
            taken = conn.execute(
                update(states)
                .where(
                    states.c.state_hash == state_hash,
                    states.c.used_at.is_(None),
                    states.c.expires_at > utc(now),
                )
                .values(used_at=utc(now))
            )
            if taken.rowcount != 1:
                return None
            row = conn.execute(select(states).where(states.c.state_hash == state_hash)).one()
        created, expires = aware(row.created_at), aware(row.expires_at)
        assert created is not None
        assert expires is not None
        return OAuthState(
            member_id=row.member_id,
            network=row.network,
            code_verifier=row.code_verifier,
            redirect_uri=row.redirect_uri,
            created_at=created,
            expires_at=expires,
        )
