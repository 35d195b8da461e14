"""Networks: ingest cursors and identity link challenges (proof by a code sent to the bot).

Revision ID: 0040_networks
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040_networks"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("networks",)
depends_on: str | Sequence[str] | None = "0003_flow"


def upgrade() -> None:
    op.create_table(
        "network_cursors",
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("network", name=op.f("pk_network_cursors")),
    )
    op.create_table(
        "link_challenges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("network_user_id", sa.String(length=255), nullable=False),
        sa.Column("handle", sa.String(length=255), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_link_challenges_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_challenges")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_link_challenges_code_hash")),
    )
    op.create_index("ix_link_challenges_member", "link_challenges", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_link_challenges_member", table_name="link_challenges")
    op.drop_table("link_challenges")
    op.drop_table("network_cursors")
