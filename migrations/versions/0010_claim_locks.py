"""Claim locks: the row a confirmation to a not-yet-member and that member's link both lock.

Revision ID: 0010_claim_locks
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_claim_locks"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("races",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_locks",
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("network_user_id", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("network", "network_user_id", name=op.f("pk_claim_locks")),
    )


def downgrade() -> None:
    op.drop_table("claim_locks")
