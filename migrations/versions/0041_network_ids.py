"""Network ids as long as the networks make them.

A Matrix user id may be 255 characters, and so may a room id and an event id; envoi's
Matrix post id is the pair (``!room|$event``, up to 511). User ids and handles widen
from 100 to 255, post ids and outbox targets to 512, outbox dedupe keys (which carry
a post id) to 600.

Revision ID: 0041_network_ids
Revises: 0040_networks
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041_network_ids"
down_revision: str | None = "0040_networks"
branch_labels: str | Sequence[str] | None = None
# After every migration that made these tables (SQLite rebuilds them whole).
depends_on: str | Sequence[str] | None = ("0010_claim_locks", "0021_payee_warnings")

USER_ID = 255
POST_ID = 512
DEDUPE_KEY = 600

# table -> [(column, old length, new length)]
WIDENED: dict[str, list[tuple[str, int, int]]] = {
    "identities": [("network_user_id", 100, USER_ID), ("handle", 100, USER_ID)],
    "claim_locks": [("network_user_id", 100, USER_ID)],
    "payment_intents": [
        ("payer_network_user_id", 100, USER_ID),
        ("payer_handle", 100, USER_ID),
        ("payee_network_user_id", 100, USER_ID),
        ("payee_handle", 100, USER_ID),
        ("source_post_id", 100, POST_ID),
    ],
    "inbound_posts": [
        ("post_id", 100, POST_ID),
        ("author_user_id", 100, USER_ID),
        ("author_handle", 100, USER_ID),
    ],
    "outbox": [
        ("dedupe_key", 200, DEDUPE_KEY),
        ("target", 100, POST_ID),
        ("remote_id", 100, POST_ID),
    ],
}


def upgrade() -> None:
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column, old, new in columns:
                batch.alter_column(
                    column, existing_type=sa.String(length=old), type_=sa.String(length=new)
                )


def downgrade() -> None:
    # Refused by PostgreSQL if a longer value is stored: such ids cannot be shortened.
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column, old, new in columns:
                batch.alter_column(
                    column, existing_type=sa.String(length=new), type_=sa.String(length=old)
                )
