"""Card top-ups are capped per member per day and per month (issue 6, finding 1): even a
card that always succeeds cannot mint money without bound, however many requests race."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from envoi.adapters.db.tables import topups
from envoi.domain.errors import EnvoiError, ErrorCode
from tests.integration.flow_app import CARD, make_world
from tests.integration.test_review_fixes import together


def test_daily_then_monthly_caps(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, topup_daily_minor=100_00, topup_monthly_minor=250_00)
    alice = world.person("alice")
    top_up = world.app.funding.top_up
    assert top_up(alice.member.id, 60_00, CARD, request_key="a").status == "succeeded"
    with pytest.raises(EnvoiError) as refused:
        top_up(alice.member.id, 40_01, CARD, request_key="b")
    assert refused.value.code is ErrorCode.TOPUP_LIMIT_DAILY
    assert refused.value.params["limit_minor"] == 100_00
    # A retry of a key already charged is the same top-up, not a new one: never capped.
    assert top_up(alice.member.id, 60_00, CARD, request_key="a").status == "succeeded"
    assert top_up(alice.member.id, 40_00, CARD, request_key="c").status == "succeeded"
    for day in range(1, 3):
        world.clock.advance(days=1, seconds=1)
        assert top_up(alice.member.id, 70_00, CARD, request_key=f"d{day}").status == "succeeded"
    world.clock.advance(days=1, seconds=1)
    with pytest.raises(EnvoiError) as monthly:
        top_up(alice.member.id, 10_01, CARD, request_key="e")
    assert monthly.value.code is ErrorCode.TOPUP_LIMIT_MONTHLY
    assert world.posted(alice) == 240_00
    world.app.engine.dispose()


def test_a_declined_card_does_not_use_the_cap(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, topup_daily_minor=50_00)
    alice = world.person("alice")
    declined = CARD.__class__("4000000000000002", 12, 2034, "123")
    for key in "abc":
        assert world.app.funding.top_up(
            alice.member.id, 50_00, declined, request_key=key
        ).status == ("declined")
    assert world.app.funding.top_up(alice.member.id, 50_00, CARD, request_key="ok").status == (
        "succeeded"
    )
    world.app.engine.dispose()


def test_a_burst_of_parallel_top_ups_stays_under_the_cap(database_url: str, engine: Engine) -> None:
    world = make_world(database_url, topup_daily_minor=100_00)
    alice = world.person("alice")
    errors = together(
        12,
        lambda i: world.app.funding.top_up(alice.member.id, 30_00, CARD, request_key=f"k{i}"),
    )
    assert len(errors) == 9
    assert all(isinstance(e, EnvoiError) and e.code is ErrorCode.TOPUP_LIMIT_DAILY for e in errors)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(topups)).scalar() == 3
    assert world.posted(alice) == 90_00
    world.app.engine.dispose()
