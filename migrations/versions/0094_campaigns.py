"""Collecting money, crowdfunding: a pledged intent (held until its campaign ends).

Revision ID: 0094_campaigns
Revises: 0093_payouts
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0094_campaigns"
down_revision: str | None = "0093_payouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = (
    "state IN ('awaiting_confirmation', 'settled', 'claimable', 'claimed', 'refunded',"
    " 'cancelled', 'expired')"
)
_AFTER = (
    "state IN ('awaiting_confirmation', 'settled', 'claimable', 'claimed', 'refunded',"
    " 'cancelled', 'expired', 'pledged')"
)


def _replace(check: str) -> None:
    with op.batch_alter_table("payment_intents") as batch:
        batch.drop_constraint(op.f("ck_payment_intents_state"), type_="check")
        batch.create_check_constraint(op.f("ck_payment_intents_state"), check)


def upgrade() -> None:
    _replace(_AFTER)


def downgrade() -> None:
    _replace(_BEFORE)
