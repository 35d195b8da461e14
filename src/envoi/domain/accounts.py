"""Ledger account ids: one naming scheme used by every service."""

from __future__ import annotations


def wallet(member_id: str) -> str:
    return f"wallet:{member_id}"


def organisation(org_id: str) -> str:
    return f"org:{org_id}"


def pot(pot_id: str) -> str:
    return f"pot:{pot_id}"


def receivable(member_id: str) -> str:
    """What a member owes envoi after a card dispute or refund the wallet could not cover:
    never a negative wallet. Its debit balance is recoverable; payouts wait for it."""
    return f"receivable:{member_id}"


def escrow(currency: str) -> str:
    """Money sent to people who are not members yet, held until they link or it is refunded."""
    return f"system:escrow:{currency}"


def card_clearing(currency: str) -> str:
    """Counterpart of card top-ups: it goes negative as money comes in from cards."""
    return f"system:card_clearing:{currency}"


def payout_clearing(currency: str) -> str:
    return f"system:payout_clearing:{currency}"


def fees(currency: str) -> str:
    return f"system:fees:{currency}"
