"""Link challenges (inside a unit of work) and ingest cursors (each save its own transaction)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, RowMapping, select, update

from envoi.adapters.db.network_tables import link_challenges, network_cursors
from envoi.adapters.db.rows import aware, insert_once, utc
from envoi.domain.model import LinkChallenge


def _challenge(row: RowMapping) -> LinkChallenge:
    created, expires = aware(row["created_at"]), aware(row["expires_at"])
    assert created is not None
    assert expires is not None
    return LinkChallenge(
        id=row["id"],
        member_id=row["member_id"],
        network=row["network"],
        network_user_id=row["network_user_id"],
        handle=row["handle"],
        created_at=created,
        expires_at=expires,
        used_at=aware(row["used_at"]),
    )


class SqlChallenges:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, challenge: LinkChallenge, code_hash: str) -> None:
        self.conn.execute(
            link_challenges.insert().values(
                id=challenge.id,
                member_id=challenge.member_id,
                network=challenge.network,
                network_user_id=challenge.network_user_id,
                handle=challenge.handle,
                code_hash=code_hash,
                created_at=utc(challenge.created_at),
                expires_at=utc(challenge.expires_at),
            )
        )

    def by_code(self, code_hash: str) -> LinkChallenge | None:
        row = (
            self.conn.execute(
                select(link_challenges).where(link_challenges.c.code_hash == code_hash)
            )
            .mappings()
            .first()
        )
        return _challenge(row) if row else None

    def use(self, challenge_id: str, now: datetime) -> bool:
        done = self.conn.execute(
            update(link_challenges)
            .where(link_challenges.c.id == challenge_id, link_challenges.c.used_at.is_(None))
            .values(used_at=utc(now))
        )
        return done.rowcount == 1


class SqlCursors:
    """``CursorStore`` on the database: short transactions of their own, never around I/O."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, network: str) -> str | None:
        with self.engine.connect() as conn:
            found: str | None = conn.execute(
                select(network_cursors.c.cursor).where(network_cursors.c.network == network)
            ).scalar()
        return found

    def save(self, network: str, cursor: str) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if not insert_once(
                conn, network_cursors, {"network": network, "cursor": cursor, "updated_at": now}
            ):
                conn.execute(
                    update(network_cursors)
                    .where(network_cursors.c.network == network)
                    .values(cursor=cursor, updated_at=now)
                )
