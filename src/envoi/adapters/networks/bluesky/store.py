"""What the Bluesky adapter keeps in envoi's database: the bot's session and its DM sends.

Short transactions of their own, never around network I/O.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, delete, select, update

from envoi.adapters.db.rows import insert_once
from envoi.adapters.networks.bluesky.tables import bluesky_dm_sends, bluesky_sessions


def sealing_key(secret: str) -> bytes:
    """The key that seals the stored session, derived from a secret kept outside the
    database (``ENVOI_TOKEN_KEY``): a copy of the database alone does not open it."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"envoi bluesky session")
    return hkdf.derive(secret.encode())


@dataclass(frozen=True, slots=True)
class DmSend:
    convo_id: str
    after_rev: str  # the conversation's revision before the send
    message_id: str | None  # known once the chat service answered


class SqlBlueskyStore:
    def __init__(self, engine: Engine, key: bytes) -> None:
        self.engine = engine
        self._aead = AESGCM(key)

    # --- the bot's session ---------------------------------------------------------

    def load_session(self, service_url: str, identifier: str) -> str | None:
        """The session saved for this account on this PDS; None if none or unreadable
        (sealed under another key: the caller logs in again)."""
        with self.engine.connect() as conn:
            sealed = conn.execute(
                select(bluesky_sessions.c.sealed).where(
                    bluesky_sessions.c.service_url == service_url,
                    bluesky_sessions.c.identifier == identifier,
                )
            ).scalar()
        if sealed is None:
            return None
        raw = base64.b64decode(sealed)
        try:
            opened = self._aead.decrypt(raw[:12], raw[12:], _aad(service_url, identifier))
        except InvalidTag:
            return None
        return opened.decode()

    def save_session(self, service_url: str, identifier: str, session: str | None) -> None:
        """Keep ``session`` (None: forget it, it no longer works)."""
        where = (
            bluesky_sessions.c.service_url == service_url,
            bluesky_sessions.c.identifier == identifier,
        )
        with self.engine.begin() as conn:
            if session is None:
                conn.execute(delete(bluesky_sessions).where(*where))
                return
            nonce = os.urandom(12)
            sealed = nonce + self._aead.encrypt(
                nonce, session.encode(), _aad(service_url, identifier)
            )
            values = {"sealed": base64.b64encode(sealed).decode(), "updated_at": datetime.now(UTC)}
            row = {"service_url": service_url, "identifier": identifier, **values}
            if not insert_once(conn, bluesky_sessions, row):
                conn.execute(update(bluesky_sessions).where(*where).values(**values))

    # --- direct messages sent --------------------------------------------------------

    def dm_send(self, idempotency_key: str) -> DmSend | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(bluesky_dm_sends).where(
                        bluesky_dm_sends.c.idempotency_key == idempotency_key
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return DmSend(row["convo_id"], row["after_rev"], row["message_id"])

    def start_dm_send(self, idempotency_key: str, convo_id: str, after_rev: str) -> None:
        """Recorded before the send; a second start for the same key changes nothing."""
        with self.engine.begin() as conn:
            insert_once(
                conn,
                bluesky_dm_sends,
                {
                    "idempotency_key": idempotency_key,
                    "convo_id": convo_id,
                    "after_rev": after_rev,
                    "created_at": datetime.now(UTC),
                },
            )

    def dm_sent(self, idempotency_key: str, message_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(bluesky_dm_sends)
                .where(bluesky_dm_sends.c.idempotency_key == idempotency_key)
                .values(message_id=message_id)
            )

    def claimed_messages(self, convo_id: str) -> set[str]:
        """Messages of ``convo_id`` already recorded as some send's (not another's)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(bluesky_dm_sends.c.message_id).where(
                    bluesky_dm_sends.c.convo_id == convo_id,
                    bluesky_dm_sends.c.message_id.is_not(None),
                )
            ).scalars()
            return {str(m) for m in found}


def _aad(service_url: str, identifier: str) -> bytes:
    # Bound to the account: a row copied to another account's key does not open.
    return f"{service_url}\n{identifier}".encode()
