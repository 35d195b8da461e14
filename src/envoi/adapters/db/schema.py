"""Imports every table module so ``metadata`` knows the whole schema (Alembic, checks)."""

from __future__ import annotations

from envoi.adapters.db import collecting_tables as _collecting_tables  # noqa: F401
from envoi.adapters.db import ledger_tables as _ledger_tables  # noqa: F401
from envoi.adapters.db import network_tables as _network_tables  # noqa: F401
from envoi.adapters.db import oauth_tables as _oauth_tables  # noqa: F401
from envoi.adapters.db import profile_tables as _profile_tables  # noqa: F401
from envoi.adapters.db import psp_tables as _psp_tables  # noqa: F401
from envoi.adapters.db import security_tables as _security_tables  # noqa: F401
from envoi.adapters.db import tables as _flow_tables  # noqa: F401
from envoi.adapters.db.metadata import metadata
from envoi.adapters.networks.bluesky import tables as _bluesky_tables  # noqa: F401
from envoi.adapters.networks.sandbox import tables as _sandbox_tables  # noqa: F401
from envoi.adapters.networks.x import tables as _x_tables  # noqa: F401
from envoi.adapters.psp import sandbox as _sandbox_psp  # noqa: F401

__all__ = ["metadata"]
