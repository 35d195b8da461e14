"""What a payer is warned of about the payee before the PIN (fix 4 of issue 6).

Revision ID: 0021_payee_warnings
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_payee_warnings"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("payee_warnings",)
depends_on: str | Sequence[str] | None = "0003_flow"


def upgrade() -> None:
    op.add_column(
        "payment_intents",
        sa.Column("payee_warnings", sa.String(length=100), server_default="", nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("payment_intents") as batch:
        batch.drop_column("payee_warnings")
