"""Sandbox network (accounts, posts, mentions) and sandbox card processor (charges).

Revision ID: 0002_sandbox
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_sandbox"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("sandbox",)
depends_on: str | Sequence[str] | None = None

_UNDELIVERED = sa.text("for_bot AND delivered_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "sandbox_accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("handle", sa.String(length=15), nullable=False),
        sa.Column("handle_key", sa.String(length=15), nullable=False),
        sa.Column("display_name", sa.String(length=50), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_accounts")),
        sa.UniqueConstraint("handle_key", name=op.f("uq_sandbox_accounts_handle_key")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sandbox_accounts_token_hash")),
    )
    op.create_table(
        "sandbox_posts",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("in_reply_to", sa.String(length=32), nullable=True),
        sa.Column("recipient_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("for_bot", sa.Boolean(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "visibility IN ('public', 'direct')", name=op.f("ck_sandbox_posts_visibility")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["sandbox_accounts.id"],
            name=op.f("fk_sandbox_posts_author_id_sandbox_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["in_reply_to"],
            ["sandbox_posts.id"],
            name=op.f("fk_sandbox_posts_in_reply_to_sandbox_posts"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["sandbox_accounts.id"],
            name=op.f("fk_sandbox_posts_recipient_id_sandbox_accounts"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sandbox_posts")),
        sa.UniqueConstraint("id", name=op.f("uq_sandbox_posts_id")),
    )
    op.create_index(
        op.f("ix_sandbox_posts_author_id"), "sandbox_posts", ["author_id"], unique=False
    )
    op.create_index(
        op.f("ix_sandbox_posts_in_reply_to"), "sandbox_posts", ["in_reply_to"], unique=False
    )
    op.create_index(
        op.f("ix_sandbox_posts_recipient_id"), "sandbox_posts", ["recipient_id"], unique=False
    )
    op.create_index("ix_sandbox_posts_timeline", "sandbox_posts", ["visibility", "seq"])
    op.create_index(
        "ix_sandbox_posts_undelivered",
        "sandbox_posts",
        ["seq"],
        postgresql_where=_UNDELIVERED,
        sqlite_where=_UNDELIVERED,
    )
    op.create_table(
        "sandbox_post_mentions",
        sa.Column("post_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("handle", sa.String(length=15), nullable=False),
        sa.Column("display_name", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["sandbox_accounts.id"],
            name=op.f("fk_sandbox_post_mentions_account_id_sandbox_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["sandbox_posts.id"],
            name=op.f("fk_sandbox_post_mentions_post_id_sandbox_posts"),
        ),
        sa.PrimaryKeyConstraint("post_id", "position", name=op.f("pk_sandbox_post_mentions")),
    )
    op.create_index(
        op.f("ix_sandbox_post_mentions_account_id"),
        "sandbox_post_mentions",
        ["account_id"],
        unique=False,
    )
    op.create_table(
        "sandbox_psp_charges",
        sa.Column("processor_ref", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decline_code", sa.String(length=40), nullable=True),
        sa.Column("three_ds", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('succeeded', 'requires_action', 'declined')",
            name=op.f("ck_sandbox_psp_charges_status"),
        ),
        sa.PrimaryKeyConstraint("processor_ref", name=op.f("pk_sandbox_psp_charges")),
        sa.UniqueConstraint("request_id", name=op.f("uq_sandbox_psp_charges_request_id")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_psp_charges")
    op.drop_index(op.f("ix_sandbox_post_mentions_account_id"), table_name="sandbox_post_mentions")
    op.drop_table("sandbox_post_mentions")
    op.drop_index("ix_sandbox_posts_undelivered", table_name="sandbox_posts")
    op.drop_index("ix_sandbox_posts_timeline", table_name="sandbox_posts")
    op.drop_index(op.f("ix_sandbox_posts_recipient_id"), table_name="sandbox_posts")
    op.drop_index(op.f("ix_sandbox_posts_in_reply_to"), table_name="sandbox_posts")
    op.drop_index(op.f("ix_sandbox_posts_author_id"), table_name="sandbox_posts")
    op.drop_table("sandbox_posts")
    op.drop_table("sandbox_accounts")
