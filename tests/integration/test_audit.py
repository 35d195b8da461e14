"""The audit trail: every money movement and security event, hash-chained, provable.

``envoi audit verify`` must pass on a real history and fail, naming the place, when a row
is edited or deleted (which takes switching the append-only triggers off first).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text

from envoi.adapters.db.audit import AuditBuffer, verify
from envoi.adapters.db.audit_tables import audit_log
from envoi.adapters.db.engine import make_engine
from envoi.adapters.db.migrate import upgrade
from envoi.domain.errors import EnvoiError, ErrorCode
from tests.databases import BACKENDS, empty_database
from tests.integration.flow_app import BOT, PIN, World, make_world

PASSWORD = "long enough password"


def story(world: World) -> tuple[str, str]:
    """A payment, a wrong PIN, sign-ins right and wrong; returns (alice's, bob's) ids."""
    alice = world.person("alice", funds=30_00)
    bob = world.person("bob")
    world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    (intent,) = world.app.wallet.to_confirm(alice.member.id)
    with pytest.raises(EnvoiError):
        world.app.lifecycle.confirm(alice.member.id, intent.id, "0000")
    world.app.lifecycle.confirm(alice.member.id, intent.id, PIN)
    world.app.members.issue_token("alice@example.org", PASSWORD, client="192.0.2.9")
    with pytest.raises(EnvoiError):
        world.app.members.issue_token("alice@example.org", "not her password", client="192.0.2.9")
    return alice.member.id, bob.member.id


def kinds_of(conn: Connection, member_id: str) -> list[str]:
    rows = conn.execute(
        select(audit_log.c.kind).where(audit_log.c.member_id == member_id).order_by(audit_log.c.at)
    )
    return [r.kind for r in rows]


def test_a_payment_story_is_recorded_and_verifies(world: World, engine: Engine) -> None:
    alice_id, bob_id = story(world)
    with engine.connect() as conn:
        alice = kinds_of(conn, alice_id)
        for kind in (
            "member.registered",
            "pin.set",
            "identity.linked",
            "topup.created",
            "topup.status",
            "intent.created",
            "pin.failed",
            "intent.state",
            "signin.ok",
            "signin.failed",
        ):
            assert kind in alice, (kind, alice)
        assert "member.registered" in kinds_of(conn, bob_id)
        contents = [r.content for r in conn.execute(select(audit_log.c.content))]
        settled = [
            json.loads(c)["data"]
            for c in contents
            if json.loads(c)["kind"] == "intent.state" and '"to_state":"settled"' in c
        ]
        assert any(d["amount_minor"] == 5_00 for d in settled)
        transfers = [json.loads(c)["data"] for c in contents if '"ledger.transfer"' in c]
        assert any(t["amount"] == 5_00 and t["pending_id"] for t in transfers)  # the posting
        # Never a secret: not the password, not the PIN.
        everything = "\n".join(contents)
        assert PASSWORD not in everything
        assert "not her password" not in everything
        assert f'"{PIN}"' not in everything
        verdict = verify(conn)
    assert verdict.problems == []
    assert verdict.rows >= 15


def test_secrets_are_refused_by_the_recorder() -> None:
    buffer = AuditBuffer(lambda: datetime.now(UTC))
    for key in ("pin", "password", "new_pin", "token", "card_number"):
        with pytest.raises(ValueError, match="may not carry"):
            buffer.record("x", None, **{key: "1234"})


def test_a_rolled_back_event_leaves_no_row(world: World, engine: Engine) -> None:
    alice_id, _ = story(world)
    with engine.connect() as conn:
        before = verify(conn).rows
    with pytest.raises(EnvoiError) as refused:
        world.app.members.set_pin(alice_id, "12")  # refused before anything is written
    assert refused.value.code is ErrorCode.INVALID_PIN_FORMAT
    with engine.connect() as conn:
        assert verify(conn).rows == before


def _switch_off_append_only(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_append_only_and_tampering_is_found(world: World, engine: Engine) -> None:
    """Inside a transaction rolled back at the end: the session's trail stays intact."""
    story(world)
    with engine.connect() as conn, conn.begin() as tx:
        first = conn.execute(
            select(audit_log.c.shard, audit_log.c.seq).order_by(audit_log.c.seq).limit(1)
        ).one()
        with pytest.raises(Exception, match="append-only"), conn.begin_nested():
            conn.execute(audit_log.update().values(kind="x").where(audit_log.c.seq == first.seq))
        with pytest.raises(Exception, match="append-only"), conn.begin_nested():
            conn.execute(audit_log.delete().where(audit_log.c.seq == first.seq))
        _switch_off_append_only(conn)
        row = (audit_log.c.shard == first.shard) & (audit_log.c.seq == 2)
        original = conn.execute(select(audit_log.c.content).where(row)).scalar_one()
        conn.execute(audit_log.update().where(row).values(content=original.replace("1", "2", 1)))
        problems = verify(conn).problems
        assert any(f"shard {first.shard} seq 2: hash does not match" in p for p in problems)
        conn.execute(audit_log.update().where(row).values(content=original))
        assert verify(conn).problems == []
        conn.execute(audit_log.delete().where(row))
        problems = verify(conn).problems
        assert any(f"shard {first.shard} seq 3: expected seq 2" in p for p in problems)
        tx.rollback()
    with engine.connect() as conn:
        assert verify(conn).problems == []


@pytest.fixture(params=BACKENDS)
def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own: this test leaves its trail broken on purpose."""
    with empty_database(request.param, tmp_path) as url:
        upgrade(url)
        yield url


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVOI_DATABASE_URL": url}
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "envoi.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_envoi_audit_verify_cli(own_database: str) -> None:
    world = make_world(own_database)
    try:
        story(world)
    finally:
        world.app.engine.dispose()
    ok = cli(own_database, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Audit trail OK" in ok.stdout
    assert "head shard=" in ok.stdout
    engine = make_engine(own_database)
    with engine.begin() as conn:
        _switch_off_append_only(conn)
        last = conn.execute(
            select(audit_log.c.shard, audit_log.c.seq).order_by(audit_log.c.seq.desc()).limit(1)
        ).one()
        # Deleting the newest row of a chain leaves its head pointing past the end.
        conn.execute(
            audit_log.delete().where(
                (audit_log.c.shard == last.shard) & (audit_log.c.seq == last.seq)
            )
        )
    engine.dispose()
    broken = cli(own_database, "audit", "verify")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"PROBLEM shard {last.shard}: head" in broken.stderr
