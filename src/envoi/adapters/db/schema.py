"""Imports every table module so ``metadata`` knows the whole schema (Alembic, checks)."""

from __future__ import annotations

from envoi.adapters.db import ledger_tables as _ledger_tables  # noqa: F401
from envoi.adapters.db import tables as _flow_tables  # noqa: F401
from envoi.adapters.db.metadata import metadata

__all__ = ["metadata"]
