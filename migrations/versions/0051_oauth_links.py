"""OAuth 2.0 authorizations in flight, for linking an account by the network's consent page.

Revision ID: 0051_oauth_links
Revises: 0050_x
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0051_oauth_links"
down_revision: str | None = "0050_x"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_link_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_oauth_link_states_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_link_states")),
    )
    op.create_index("ix_oauth_link_states_member", "oauth_link_states", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_oauth_link_states_member", table_name="oauth_link_states")
    op.drop_table("oauth_link_states")
