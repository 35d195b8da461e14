"""Sign-in and sign-up throttles: growing delays per account and per client address.

Without them, 40 wrong passwords in 18 s were followed by a success, and ``POST /members``
answered ``EMAIL_TAKEN`` to anyone testing a list of addresses. The counts live in the
database (``auth_throttle``), so every API process sees the same ones.

Sign-in: each key (the typed e-mail, whether or not an account has it, and the client
address) may fail ``free`` times within the window; from then on each failure blocks the
key for a delay that doubles (1 s, 2 s, 4 s … up to the cap). While a key is blocked no
password is even checked: a correct one waits too. A success clears the account's count,
never the address's (one account of one's own must not reset a guessing run on others).
The row of each key is locked for the attempt, so parallel guesses on one account take
turns instead of all slipping in before the first failure is counted.

Sign-up: at most ``signups_per_ip_per_hour`` attempts per client address per hour,
counted in their own transaction before the attempt (a refused one counts too).
A new account signs in at once: sign-up never touches the sign-in counts.

Addresses: an IPv6 client is counted by its /64, which one host usually holds whole.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.context import Context
from envoi.services.unit_of_work import ThrottleState, UnitOfWork

SIGNUP_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Key:
    scope: str  # "account", "ip" or "signup"
    digest: str


def key(scope: str, value: str) -> Key:
    return Key(scope, hashlib.sha256(f"{scope}:{value}".encode()).hexdigest())


def client_key(address: str) -> str:
    """The part of a client address that is counted: IPv4 whole, IPv6 by /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def delay_after(failures: int, free: int, first_s: float, max_s: float) -> float:
    """Seconds a key waits after its ``failures``-th failure: none while free, then doubling."""
    if failures < free:
        return 0.0
    return float(min(max_s, first_s * 2.0 ** min(failures - free, 40)))


def wait_s(until: datetime | None, now: datetime) -> int:
    """Whole seconds left before ``until`` (at least 1 when any time is left)."""
    if until is None or until <= now:
        return 0
    return max(1, math.ceil((until - now).total_seconds()))


class SignInThrottle:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def keys(self, email: str, client: str | None) -> list[Key]:
        keys = [key("account", email)]
        if client:
            keys.append(key("ip", client_key(client)))
        return keys

    def check(self, uow: UnitOfWork, keys: list[Key], now: datetime) -> None:
        """Lock the keys' rows; refuse at once while any is blocked."""
        wait = max(
            wait_s(uow.throttle.lock(k.digest, k.scope, now).blocked_until, now) for k in keys
        )
        if wait:
            raise EnvoiError(ErrorCode.TOO_MANY_ATTEMPTS, retry_after_s=wait)

    def failed(self, uow: UnitOfWork, keys: list[Key], now: datetime) -> None:
        settings = self.ctx.settings
        window = timedelta(seconds=settings.signin_window_s)
        for k in keys:
            state: ThrottleState = uow.throttle.count(k.digest, now, window)
            free = (
                settings.signin_free_attempts_per_account
                if k.scope == "account"
                else settings.signin_free_attempts_per_ip
            )
            delay = delay_after(
                state.count, free, settings.signin_first_delay_s, settings.signin_max_delay_s
            )
            if delay:
                uow.throttle.block(k.digest, now + timedelta(seconds=delay))

    def succeeded(self, uow: UnitOfWork, keys: list[Key]) -> None:
        for k in keys:
            if k.scope == "account":
                uow.throttle.clear(k.digest)

    def count_signup(self, client: str | None) -> None:
        """Count one sign-up attempt from ``client`` (committed at once); refuse past the
        hourly limit."""
        if not client:
            return
        k = key("signup", client_key(client))
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            uow.throttle.lock(k.digest, k.scope, now)
            state = uow.throttle.count(k.digest, now, SIGNUP_WINDOW)
            uow.commit()
        if state.count > self.ctx.settings.signups_per_ip_per_hour:
            wait = wait_s(state.window_start + SIGNUP_WINDOW, now)
            raise EnvoiError(
                ErrorCode.TOO_MANY_SIGNUPS, retry_after_s=wait, minutes=math.ceil(wait / 60)
            )
