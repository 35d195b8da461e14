"""A clock the test sets by hand, for code that takes ``now`` as a callable (the ledger)."""

from __future__ import annotations

from datetime import datetime


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at
