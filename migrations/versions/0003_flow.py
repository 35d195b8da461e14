"""Payment flow: members, tokens, identities, pots, intents, inbound posts, top-ups, outbox.

Revision ID: 0003_flow
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_flow"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("flow",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_posts",
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("post_id", sa.String(length=100), nullable=False),
        sa.Column("author_user_id", sa.String(length=100), nullable=False),
        sa.Column("author_handle", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("direct", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("intent_id", sa.String(length=40), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("network", "post_id", name=op.f("pk_inbound_posts")),
    )
    op.create_index(
        "ix_inbound_posts_author",
        "inbound_posts",
        ["network", "author_user_id", "received_at"],
        unique=False,
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("privacy", sa.String(length=10), server_default="public", nullable=False),
        sa.Column("kind", sa.String(length=15), server_default="person", nullable=False),
        sa.Column("verified", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("pin_hash", sa.String(length=100), nullable=True),
        sa.Column("pin_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pin_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('person', 'organisation')", name=op.f("ck_members_kind")),
        sa.CheckConstraint(
            "privacy IN ('public', 'discreet', 'private')", name=op.f("ck_members_privacy")
        ),
        sa.CheckConstraint("pin_failures >= 0", name=op.f("ck_members_pin_failures")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("email", name=op.f("uq_members_email")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.CheckConstraint("kind IN ('reply', 'dm')", name=op.f("ck_outbox_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index(
        "ix_outbox_due", "outbox", ["delivered_at", "failed_at", "next_attempt_at"], unique=False
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_api_tokens_member_id_members")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_api_tokens")),
    )
    op.create_index(op.f("ix_api_tokens_member_id"), "api_tokens", ["member_id"], unique=False)
    op.create_table(
        "identities",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("network_user_id", sa.String(length=100), nullable=False),
        sa.Column("handle", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_identities_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("network", "network_user_id", name="uq_identities_network_user"),
    )
    op.create_index(op.f("ix_identities_member_id"), "identities", ["member_id"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("intent_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_notifications_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_member_created",
        "notifications",
        ["member_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "pots",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("hashtag", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner_member_id", sa.String(length=40), nullable=False),
        sa.Column("goal_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "goal_minor IS NULL OR goal_minor > 0", name=op.f("ck_pots_goal_positive")
        ),
        sa.ForeignKeyConstraint(
            ["owner_member_id"], ["members.id"], name=op.f("fk_pots_owner_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pots")),
        sa.UniqueConstraint("hashtag", name=op.f("uq_pots_hashtag")),
    )
    op.create_table(
        "topups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("request_key", sa.String(length=100), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("processor", sa.String(length=20), nullable=False),
        sa.Column("processor_ref", sa.String(length=100), nullable=True),
        sa.Column("last4", sa.String(length=4), server_default="", nullable=False),
        sa.Column("decline_code", sa.String(length=40), nullable=True),
        sa.Column("action_url", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'requires_action', 'declined')",
            name=op.f("ck_topups_status"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_topups_amount_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_topups_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topups")),
        sa.UniqueConstraint("processor_ref", name=op.f("uq_topups_processor_ref")),
        sa.UniqueConstraint("request_key", name=op.f("uq_topups_request_key")),
    )
    op.create_index(op.f("ix_topups_member_id"), "topups", ["member_id"], unique=False)
    op.create_table(
        "payment_intents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=25), nullable=False),
        sa.Column("payer_member_id", sa.String(length=40), nullable=False),
        sa.Column("payer_network_user_id", sa.String(length=100), nullable=True),
        sa.Column("payer_handle", sa.String(length=100), nullable=True),
        sa.Column("requester_member_id", sa.String(length=40), nullable=True),
        sa.Column("payee_kind", sa.String(length=10), nullable=False),
        sa.Column("payee_member_id", sa.String(length=40), nullable=True),
        sa.Column("payee_network", sa.String(length=20), nullable=True),
        sa.Column("payee_network_user_id", sa.String(length=100), nullable=True),
        sa.Column("payee_handle", sa.String(length=100), nullable=False),
        sa.Column("payee_display_name", sa.String(length=100), nullable=False),
        sa.Column("pot_id", sa.String(length=40), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fee_charged_to", sa.String(length=5), server_default="payer", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("privacy", sa.String(length=10), nullable=False),
        sa.Column("source_network", sa.String(length=20), nullable=True),
        sa.Column("source_post_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('send', 'donate', 'request', 'pot')", name=op.f("ck_payment_intents_kind")
        ),
        sa.CheckConstraint(
            "state IN ('awaiting_confirmation', 'settled', 'claimable', 'claimed', 'refunded',"
            " 'cancelled', 'expired')",
            name=op.f("ck_payment_intents_state"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payment_intents_amount_positive")),
        sa.CheckConstraint("fee_minor >= 0", name=op.f("ck_payment_intents_fee_non_negative")),
        sa.CheckConstraint(
            "payee_member_id IS NULL OR payee_member_id <> payer_member_id",
            name=op.f("ck_payment_intents_not_self"),
        ),
        sa.ForeignKeyConstraint(
            ["payee_member_id"],
            ["members.id"],
            name=op.f("fk_payment_intents_payee_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["payer_member_id"],
            ["members.id"],
            name=op.f("fk_payment_intents_payer_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name=op.f("fk_payment_intents_pot_id_pots")
        ),
        sa.ForeignKeyConstraint(
            ["requester_member_id"],
            ["members.id"],
            name=op.f("fk_payment_intents_requester_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_intents")),
        sa.UniqueConstraint("source_network", "source_post_id", name="uq_payment_intents_source"),
    )
    op.create_index(
        "ix_payment_intents_claim",
        "payment_intents",
        ["payee_network", "payee_network_user_id", "state"],
        unique=False,
    )
    op.create_index(
        "ix_payment_intents_payee_member", "payment_intents", ["payee_member_id"], unique=False
    )
    op.create_index(
        "ix_payment_intents_payer_state",
        "payment_intents",
        ["payer_member_id", "state"],
        unique=False,
    )
    op.create_index(
        "ix_payment_intents_state_expires", "payment_intents", ["state", "expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_payment_intents_state_expires", table_name="payment_intents")
    op.drop_index("ix_payment_intents_payer_state", table_name="payment_intents")
    op.drop_index("ix_payment_intents_payee_member", table_name="payment_intents")
    op.drop_index("ix_payment_intents_claim", table_name="payment_intents")
    op.drop_table("payment_intents")
    op.drop_index(op.f("ix_topups_member_id"), table_name="topups")
    op.drop_table("topups")
    op.drop_table("pots")
    op.drop_index("ix_notifications_member_created", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_identities_member_id"), table_name="identities")
    op.drop_table("identities")
    op.drop_index(op.f("ix_api_tokens_member_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("members")
    op.drop_index("ix_inbound_posts_author", table_name="inbound_posts")
    op.drop_table("inbound_posts")
