"""Sign-in and sign-up throttles with a clock the test moves, on both databases."""

from __future__ import annotations

import pytest

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.throttle import client_key, delay_after
from tests.integration.flow_app import World

PASSWORD = "long enough password"
HERE = "198.51.100.7"


def attempt(world: World, email: str, password: str, client: str | None = HERE) -> ErrorCode | None:
    try:
        world.app.members.issue_token(email, password, client=client)
    except EnvoiError as refused:
        return refused.code
    return None


def retry_after(world: World, email: str, password: str, client: str | None = HERE) -> int:
    with pytest.raises(EnvoiError) as refused:
        world.app.members.issue_token(email, password, client=client)
    assert refused.value.code is ErrorCode.TOO_MANY_ATTEMPTS
    wait = refused.value.params["retry_after_s"]
    assert isinstance(wait, int)
    return wait


def test_delays_double_and_the_right_password_waits_them_out(world: World) -> None:
    world.person("alice")
    email = "alice@example.org"
    for _ in range(4):
        assert attempt(world, email, "wrong") is ErrorCode.INVALID_CREDENTIALS
    assert attempt(world, email, "wrong") is ErrorCode.INVALID_CREDENTIALS  # 5th: blocks 1 s
    for expected in (1, 2, 4, 8, 16):
        assert retry_after(world, email, PASSWORD) == expected
        world.clock.advance(seconds=expected - 0.5)
        assert retry_after(world, email, PASSWORD) == 1  # still blocked, right password or not
        world.clock.advance(seconds=0.5)
        assert attempt(world, email, "wrong") is ErrorCode.INVALID_CREDENTIALS
    assert retry_after(world, email, PASSWORD) == 32
    world.clock.advance(seconds=32)
    assert attempt(world, email, PASSWORD) is None
    # A success clears the account's count: the next mistake is a free one again.
    assert attempt(world, email, "wrong") is ErrorCode.INVALID_CREDENTIALS
    assert attempt(world, email, PASSWORD) is None


def test_the_cap_and_the_window(world: World) -> None:
    world.person("bob")
    email = "bob@example.org"
    settings = world.app.settings
    assert delay_after(30, 5, 1.0, 900.0) == 900.0
    for _ in range(settings.signin_free_attempts_per_account):
        assert attempt(world, email, "wrong") is ErrorCode.INVALID_CREDENTIALS
    world.clock.advance(seconds=settings.signin_window_s + 1)
    # The window has passed: the count starts again (free), though the block also expired.
    assert attempt(world, email, "wrong") is ErrorCode.INVALID_CREDENTIALS
    assert attempt(world, email, PASSWORD) is None


def test_unknown_emails_are_counted_like_known_ones(world: World) -> None:
    for _ in range(5):
        assert attempt(world, "nobody@example.org", "x", None) is ErrorCode.INVALID_CREDENTIALS
    assert retry_after(world, "nobody@example.org", "x", None) == 1


def test_an_address_is_counted_across_accounts(world: World) -> None:
    world.person("carol")
    for n in range(20):
        assert attempt(world, f"guess{n}@example.org", "x") is ErrorCode.INVALID_CREDENTIALS
    assert retry_after(world, "carol@example.org", PASSWORD) == 1
    # The account itself is fine from elsewhere; and an IPv6 /64 counts as one address.
    assert attempt(world, "carol@example.org", PASSWORD, "2001:db8::1") is None
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"


def test_signups_per_address_per_hour(world: World) -> None:
    limit = world.app.settings.signups_per_ip_per_hour

    def signup(n: int, client: str = HERE) -> ErrorCode | None:
        try:
            world.app.members.register(
                email=f"new{n}@example.org",
                password=PASSWORD,
                display_name="New Person",
                locale="fr",
                client=client,
            )
        except EnvoiError as refused:
            return refused.code
        return None

    assert signup(0) is None
    assert signup(0) is ErrorCode.EMAIL_TAKEN  # a refused attempt counts as well
    for n in range(1, limit - 1):
        assert signup(n) is None
    assert signup(999) is ErrorCode.TOO_MANY_SIGNUPS
    assert signup(998, "192.0.2.1") is None  # another address
    # New accounts sign in at once, from the same address.
    assert attempt(world, "new1@example.org", PASSWORD) is None
    world.clock.advance(hours=1)
    assert signup(999) is None
