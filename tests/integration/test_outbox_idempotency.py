"""Each outbox row reaches the network once, even when a worker dies between sending it
and recording that it was sent (issue 6: 529 bot posts for 528 outbox rows after kill -9).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from envoi.adapters.db.tables import outbox
from envoi.adapters.networks.sandbox import SandboxGateway
from envoi.adapters.networks.sandbox.tables import sandbox_posts
from envoi.domain.errors import EnvoiError, ErrorCode
from tests.integration.flow_app import BOT, World


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs, no ``except Exception`` catches it."""


def bot_posts(world: World, engine: Engine) -> list[Any]:
    bot = world.app.sandbox.get_by_handle(BOT)
    assert bot is not None
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(sandbox_posts.c.id, sandbox_posts.c.text).where(
                    sandbox_posts.c.author_id == bot.id
                )
            )
        )


def die_after(send: Callable[..., str]) -> Callable[..., str]:
    def sent_then_killed(*args: Any, **kwargs: Any) -> str:
        send(*args, **kwargs)
        raise Killed

    return sent_then_killed


@pytest.mark.parametrize("kind", ["reply", "direct_message"])
def test_a_send_retried_after_the_worker_died_posts_once(
    world: World, engine: Engine, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    # A DM to the bot is answered by DM (Gateway.direct_message is the path of private
    # answers); a public post by a public reply.
    world.post(
        alice,
        f"@{BOT} #envoyer 5€ @bob" if kind == "reply" else "#envoyer 5€ @bob",
        **({"visibility": "direct", "to": BOT} if kind == "direct_message" else {}),
    )
    with engine.connect() as conn:
        kinds = conn.execute(select(outbox.c.kind).order_by(outbox.c.created_at)).scalars()
        assert next(iter(kinds)) == ("reply" if kind == "reply" else "dm")
    gateway = world.app.ctx.gateways["sandbox"]
    with monkeypatch.context() as patch:
        patch.setattr(gateway, "reply", die_after(gateway.reply))
        patch.setattr(gateway, "direct_message", die_after(gateway.direct_message))
        with pytest.raises(Killed):
            world.app.delivery.deliver_due(limit=1)
    assert len(bot_posts(world, engine)) == 1  # it went out; the outbox does not know

    # The restarted worker (the real gateway again) retries once the dead one's lease ends.
    world.clock.advance(seconds=world.app.settings.outbox_lease_s + 1)
    while world.app.delivery.deliver_due():
        pass

    posted = bot_posts(world, engine)
    with engine.connect() as conn:
        delivered = conn.execute(select(outbox.c.remote_id, outbox.c.delivered_at)).all()
    assert all(row.delivered_at is not None for row in delivered)
    assert len(posted) == len(delivered)  # one network message per outbox row
    assert sorted(p.id for p in posted) == sorted(row.remote_id for row in delivered)


def test_the_sandbox_gateway_honours_idempotency_keys(world: World, engine: Engine) -> None:
    alice = world.person("alice", funds=20_00)
    gateway = world.app.ctx.gateways["sandbox"]
    assert isinstance(gateway, SandboxGateway)
    command = world.post(alice, f"@{BOT} #envoyer 5€ @nobody_here")
    before = len(bot_posts(world, engine))

    first = gateway.direct_message(alice.sandbox_id, "Your code: 1234", idempotency_key="k-1")
    again = gateway.direct_message(alice.sandbox_id, "Your code: 1234", idempotency_key="k-1")
    other = gateway.direct_message(alice.sandbox_id, "Your code: 1234", idempotency_key="k-2")
    reply = gateway.reply(command, "Noted", idempotency_key="k-3")
    reply_again = gateway.reply(command, "Noted", idempotency_key="k-3")

    assert first == again != other
    assert reply == reply_again
    assert len(bot_posts(world, engine)) == before + 3
    # A key reused for another message is the caller's bug: refused, not silently dropped.
    with pytest.raises(EnvoiError) as refused:
        gateway.direct_message(alice.sandbox_id, "Another text", idempotency_key="k-1")
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    # Keys belong to their author: alice's "k-1" is not the bot's.
    own = world.app.sandbox.post(alice.sandbox_id, "hello", idempotency_key="k-1")
    assert own.id != first


def test_a_reply_retried_after_its_post_was_deleted_still_answers_the_first_id(
    world: World, engine: Engine
) -> None:
    alice = world.person("alice", funds=20_00)
    gateway = world.app.ctx.gateways["sandbox"]
    command = world.post(alice, f"@{BOT} #envoyer 5€ @nobody_here")
    first = gateway.reply(command, "Noted", idempotency_key="k-9")
    world.app.sandbox.delete(alice.sandbox_id, command)
    assert gateway.reply(command, "Noted", idempotency_key="k-9") == first


def test_concurrent_sends_with_one_key_post_once(world: World, engine: Engine) -> None:
    alice = world.person("alice")
    gateway = world.app.ctx.gateways["sandbox"]
    before = len(bot_posts(world, engine))
    ids: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        try:
            ids.append(gateway.direct_message(alice.sandbox_id, "hi", idempotency_key="same"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(ids)) == 1
    assert len(bot_posts(world, engine)) == before + 1


def test_the_sandbox_api_takes_an_idempotency_key_header(world: World) -> None:
    import warnings

    from fastapi import FastAPI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient

    app = FastAPI()
    for prefix, router in world.app.routers:
        app.include_router(router, prefix=prefix)
    alice = world.person("alice")
    headers = {"Authorization": f"Bearer {alice.token}", "Idempotency-Key": "post-1"}
    with TestClient(app) as client:
        first = client.post("/sandbox/api/posts", json={"text": "hello"}, headers=headers)
        again = client.post("/sandbox/api/posts", json={"text": "hello"}, headers=headers)
        other = client.post("/sandbox/api/posts", json={"text": "bye"}, headers=headers)
        bad = client.post(
            "/sandbox/api/posts",
            json={"text": "hello"},
            headers={**headers, "Idempotency-Key": "x" * 65},
        )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert (other.status_code, other.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert bad.status_code == 422
    assert len(world.app.sandbox.timeline()) == 1


def test_a_reply_to_a_deleted_post_is_given_up_at_once(world: World, engine: Engine) -> None:
    alice = world.person("alice", funds=20_00)
    world.person("bob")
    command = world.post(alice, f"@{BOT} #envoyer 5€ @bob")
    world.app.sandbox.delete(alice.sandbox_id, command)  # before the bot's reply went out
    world.app.delivery.deliver_due()
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.attempts, outbox.c.failed_at, outbox.c.last_error).where(
                outbox.c.target == command
            )
        ).all()
    assert rows
    assert all(r.failed_at is not None and "POST_NOT_FOUND" in r.last_error for r in rows)
    assert all(r.attempts == 1 for r in rows)  # not retried for minutes
