"""The unit of work: one database transaction and the repositories that share it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from envoi.adapters.db.audit import AuditBuffer, flush
from envoi.adapters.db.ledger_store import SqlLedger
from envoi.adapters.db.repo_card import SqlCard
from envoi.adapters.db.repo_collecting import (
    SqlDonations,
    SqlOrganisations,
    SqlPayouts,
    SqlReports,
)
from envoi.adapters.db.repo_members import SqlIdentities, SqlMembers, SqlPots
from envoi.adapters.db.repo_networks import SqlChallenges
from envoi.adapters.db.repo_notices import SqlNotices
from envoi.adapters.db.repo_payments import SqlInboundPosts, SqlIntents, SqlTopups
from envoi.adapters.db.repo_security import SqlThrottle
from envoi.faults import crash_point
from envoi.services.unit_of_work import TransientConflict

# PostgreSQL aborts a transaction with these when running it again may succeed.
_TRANSIENT_SQLSTATES = {
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
}


class SqlUnitOfWork:
    ledger: SqlLedger
    members: SqlMembers
    identities: SqlIdentities
    pots: SqlPots
    organisations: SqlOrganisations
    donations: SqlDonations
    payouts: SqlPayouts
    reports: SqlReports
    challenges: SqlChallenges
    intents: SqlIntents
    posts: SqlInboundPosts
    topups: SqlTopups
    notices: SqlNotices
    card: SqlCard
    throttle: SqlThrottle
    audit: AuditBuffer

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        conn = self._engine.connect()
        conn.begin()
        self._conn = conn
        # Every repository that moves money or touches security records into one buffer,
        # appended to the audit chain by ``commit`` in the same transaction.
        self.audit = audit = AuditBuffer(self._now)
        self.ledger = SqlLedger(conn, self._now, audit=audit)
        self.members = SqlMembers(conn, audit)
        self.identities = SqlIdentities(conn, audit)
        self.pots = SqlPots(conn)
        self.organisations = SqlOrganisations(conn)
        self.donations = SqlDonations(conn)
        self.payouts = SqlPayouts(conn)
        self.reports = SqlReports(conn)
        self.challenges = SqlChallenges(conn)
        self.intents = SqlIntents(conn, audit)
        self.posts = SqlInboundPosts(conn)
        self.topups = SqlTopups(conn, audit)
        self.notices = SqlNotices(conn)
        self.card = SqlCard(conn)
        self.throttle = SqlThrottle(conn)
        return self

    def commit(self) -> None:
        assert self._conn is not None
        flush(self._conn, self.audit.take())  # last: the chain head is locked until commit
        crash_point("uow.before_commit")
        self._conn.commit()
        crash_point("uow.after_commit")
        # Later statements in the same block get a fresh transaction.
        self._conn.begin()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            self.audit.take()  # events of a rolled-back transaction never happened
            self._conn.rollback()  # whatever was not committed
        finally:
            self._conn.close()
            self._conn = None
        if isinstance(exc, DBAPIError):
            reason = transient_reason(exc)
            if reason is not None:
                # Rolled back above: the services may run the whole transaction again.
                raise TransientConflict(reason) from exc


def transient_reason(exc: DBAPIError) -> str | None:
    """Why the database gave the transaction up, if running it again may succeed."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return _TRANSIENT_SQLSTATES[sqlstate]
    if "database is locked" in str(exc.orig):  # SQLite, past its busy timeout
        return "database_locked"
    return None


def uow_factory(engine: Engine, now: Callable[[], datetime]) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, now)
