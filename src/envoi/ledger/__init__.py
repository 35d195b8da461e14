"""Double-entry ledger with two-phase transfers. Depends on ``envoi.money`` and ``envoi.domain``."""
