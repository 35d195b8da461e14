"""Tables of the payment flow: members, identities, pots, intents, top-ups, outbox, notifications.

Invariants live in the database as well as in code (CHECKs, UNIQUEs): a bug in a
service cannot store a negative amount or process the same post twice.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from envoi.adapters.db.metadata import metadata

ID = String(40)
TS = DateTime(timezone=True)

members = Table(
    "members",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lowercased
    Column("password_hash", String(200), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("locale", String(5), nullable=False),
    Column("privacy", String(10), nullable=False, server_default="public"),
    Column("kind", String(15), nullable=False, server_default="person"),
    Column("verified", Boolean, nullable=False, server_default="0"),
    Column("pin_hash", String(100)),
    Column("pin_failures", Integer, nullable=False, server_default="0"),
    Column("pin_locked_until", TS),
    Column("created_at", TS, nullable=False),
    CheckConstraint("privacy IN ('public', 'discreet', 'private')", name="privacy"),
    CheckConstraint("kind IN ('person', 'organisation')", name="kind"),
    CheckConstraint("pin_failures >= 0", name="pin_failures"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256: a leaked table grants nothing
    Column("member_id", ID, ForeignKey("members.id"), nullable=False, index=True),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("id", ID, primary_key=True),
    Column("member_id", ID, ForeignKey("members.id"), nullable=False, index=True),
    Column("network", String(20), nullable=False),
    Column("network_user_id", String(255), nullable=False),  # immutable: money follows it
    Column("handle", String(255), nullable=False),  # last known, for display only
    Column("display_name", String(100), nullable=False),
    Column("linked_at", TS, nullable=False),
    UniqueConstraint("network", "network_user_id", name="uq_identities_network_user"),
)

# One row per network account money has waited for or that was linked: the row the
# payer's confirmation and the payee's link both lock (see services/unit_of_work.py,
# lock order level 3), so neither decides on a state the other has not committed.
claim_locks = Table(
    "claim_locks",
    metadata,
    Column("network", String(20), primary_key=True),
    Column("network_user_id", String(255), primary_key=True),
)

pots = Table(
    "pots",
    metadata,
    Column("id", ID, primary_key=True),
    Column("hashtag", String(100), nullable=False, unique=True),  # lowercased
    Column("title", String(200), nullable=False),
    Column("owner_member_id", ID, ForeignKey("members.id"), nullable=False),
    Column("goal_minor", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("created_at", TS, nullable=False),
    # Contributions stop at ``closes_at`` or when the owner closes it (``closed_at``).
    Column("closes_at", TS),
    Column("closed_at", TS),
    # A crowdfunding campaign: pledges held until ``closes_at``, then all or nothing.
    Column("all_or_nothing", Boolean, nullable=False, server_default="0"),
    Column("outcome", String(10)),
    CheckConstraint("goal_minor IS NULL OR goal_minor > 0", name="goal_positive"),
    CheckConstraint("outcome IS NULL OR outcome IN ('succeeded', 'failed')", name="outcome"),
    CheckConstraint(
        "NOT all_or_nothing OR (goal_minor IS NOT NULL AND closes_at IS NOT NULL)",
        name="campaign_terms",
    ),
)

# Whether a contributor's name appears on the pot's page (hidden unless they say so).
pot_choices = Table(
    "pot_choices",
    metadata,
    Column("intent_id", ID, ForeignKey("payment_intents.id"), primary_key=True),
    Column("pot_id", ID, ForeignKey("pots.id"), nullable=False),
    Column("show_name", Boolean, nullable=False, server_default="0"),
)

payment_intents = Table(
    "payment_intents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("state", String(25), nullable=False),
    Column("payer_member_id", ID, ForeignKey("members.id"), nullable=False),
    # The payer's account in this exchange (the one that posted, or the one asked):
    # replies name it, never another account the same member has linked.
    Column("payer_network_user_id", String(255)),
    Column("payer_handle", String(255)),
    Column("requester_member_id", ID, ForeignKey("members.id")),
    Column("payee_kind", String(10), nullable=False),
    Column("payee_member_id", ID, ForeignKey("members.id")),
    Column("payee_network", String(20)),
    Column("payee_network_user_id", String(255)),
    Column("payee_handle", String(255), nullable=False),
    Column("payee_display_name", String(100), nullable=False),
    Column("pot_id", ID, ForeignKey("pots.id")),
    Column("amount_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False, server_default="0"),
    Column("fee_charged_to", String(5), nullable=False, server_default="payer"),
    Column("currency", String(3), nullable=False),
    Column("privacy", String(10), nullable=False),
    Column("source_network", String(20)),
    Column("source_post_id", String(512)),  # a Matrix !room|$event: up to 511
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("settled_at", TS),
    Column("claim_expires_at", TS),
    Column("finished_at", TS),
    # Comma-separated ``PayeeWarning`` values the payer is shown before the PIN.
    Column("payee_warnings", String(100), nullable=False, server_default=""),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("fee_minor >= 0", name="fee_non_negative"),
    CheckConstraint(
        "state IN ('awaiting_confirmation', 'settled', 'claimable', 'claimed', 'refunded',"
        " 'cancelled', 'expired', 'pledged')",
        name="state",
    ),
    CheckConstraint("kind IN ('send', 'donate', 'request', 'pot')", name="kind"),
    CheckConstraint(
        "payee_member_id IS NULL OR payee_member_id <> payer_member_id", name="not_self"
    ),
    UniqueConstraint("source_network", "source_post_id", name="uq_payment_intents_source"),
    Index("ix_payment_intents_payer_state", "payer_member_id", "state"),
    Index("ix_payment_intents_payee_member", "payee_member_id"),
    Index("ix_payment_intents_state_expires", "state", "expires_at"),
    Index("ix_payment_intents_claim", "payee_network", "payee_network_user_id", "state"),
)

inbound_posts = Table(
    "inbound_posts",
    metadata,
    Column("network", String(20), primary_key=True),
    Column("post_id", String(512), primary_key=True),
    Column("author_user_id", String(255), nullable=False),
    Column("author_handle", String(255), nullable=False),
    Column("text", Text, nullable=False),
    Column("direct", Boolean, nullable=False),
    Column("received_at", TS, nullable=False),
    Column("outcome", String(40), nullable=False),  # "ignored", "intent", or an error code
    Column("intent_id", ID),
    Column("deleted_at", TS),
    Index("ix_inbound_posts_author", "network", "author_user_id", "received_at"),
)

topups = Table(
    "topups",
    metadata,
    Column("id", ID, primary_key=True),
    Column("member_id", ID, ForeignKey("members.id"), nullable=False, index=True),
    Column("request_key", String(100), nullable=False, unique=True),  # idempotency key
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("processor", String(20), nullable=False),
    Column("processor_ref", String(100), unique=True),
    Column("last4", String(4), nullable=False, server_default=""),
    Column("decline_code", String(40)),
    Column("action_url", String(300)),
    Column("created_at", TS, nullable=False),
    Column("completed_at", TS),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "status IN ('pending', 'succeeded', 'requires_action', 'declined')", name="status"
    ),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", ID, primary_key=True),
    Column("member_id", ID, ForeignKey("members.id"), nullable=False),
    Column("code", String(40), nullable=False),
    Column("params", JSON, nullable=False),
    Column("intent_id", ID),
    Column("created_at", TS, nullable=False),
    Column("read_at", TS),
    Index("ix_notifications_member_created", "member_id", "created_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", ID, primary_key=True),
    Column("dedupe_key", String(600), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),  # "reply" or "dm"
    Column("network", String(20), nullable=False),
    Column("target", String(512), nullable=False),  # post id (reply) or user id (dm)
    Column("text", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("delivered_at", TS),
    Column("failed_at", TS),
    Column("last_error", Text),
    Column("remote_id", String(512)),
    CheckConstraint("kind IN ('reply', 'dm')", name="kind"),
    Index("ix_outbox_due", "delivered_at", "failed_at", "next_attempt_at"),
)
