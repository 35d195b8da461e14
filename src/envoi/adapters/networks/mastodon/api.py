"""Mastodon.py, as envoi uses it: one error type out, rate limits waited out with backoff.

Mastodon answers 429 with ``X-RateLimit-Reset`` (300 calls per 5 minutes per account by
default, 30 statuses per 30 minutes). Mastodon.py is set to raise on it rather than sleep
unbounded; ``call`` then waits until the reset (doubling a floor each time, capped), a few
times, and gives up as ``MastodonUnavailableError``: the outbox retries later, with the same
``Idempotency-Key``, and the ingest loop backs off. Nothing is sent twice either way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
)

T = TypeVar("T")

# Dates and ids come as Mastodon.py's own types; envoi reads them through these helpers.
Entity = Any


class MastodonUnavailableError(RuntimeError):
    """The instance could not be reached, failed, or kept rate-limiting us."""


class NotOnMastodonError(LookupError):
    """The instance answered 404 (a deleted status, an unknown account)."""


def entity_id(value: object) -> str:
    return str(value)


class MastodonApi:
    """One account's client on one instance (the bot's, or a member's during linking)."""

    def __init__(
        self,
        base_url: str,
        access_token: str | None = None,
        *,
        timeout_s: float = 30.0,
        rate_limit_tries: int = 4,
        rate_limit_wait_cap_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = Mastodon(
            access_token=access_token,
            api_base_url=self.base_url,
            ratelimit_method="throw",
            request_timeout=timeout_s,
            user_agent="envoi",
        )
        self.rate_limit_tries = rate_limit_tries
        self.rate_limit_wait_cap_s = rate_limit_wait_cap_s
        self._sleep = sleep
        self._domain: str | None = None

    def call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``method`` (a bound Mastodon.py method) with rate limits waited out."""
        floor = 1.0
        for attempt in range(1, self.rate_limit_tries + 1):
            try:
                return method(*args, **kwargs)
            except MastodonRatelimitError as exc:
                if attempt == self.rate_limit_tries:
                    raise MastodonUnavailableError("rate limited") from exc
                reset = self.client.ratelimit_reset
                until_reset = float(reset) - time.time() if reset else 0.0
                delay = min(self.rate_limit_wait_cap_s, max(until_reset, floor))
                self._sleep(delay + random.random() * floor / 4)  # noqa: S311 - jitter
                floor *= 2
            except MastodonNotFoundError as exc:
                raise NotOnMastodonError(str(exc)) from exc
            except (MastodonNetworkError, MastodonServerError) as exc:
                raise MastodonUnavailableError(str(exc)) from exc
            except MastodonAPIError as exc:  # 401, 403, 422: ours to look at, not to retry
                raise MastodonUnavailableError(str(exc)) from exc
        raise AssertionError("unreachable")

    def domain(self) -> str:
        """The instance's own domain (Mastodon's LOCAL_DOMAIN, maybe not the API host)."""
        if self._domain is None:
            self._domain = str(self.call(self.client.instance_v2).domain).lower()
        return self._domain

    def qualified(self, acct: str) -> str:
        """``user@instance`` for an ``acct`` as this instance writes it (local: bare)."""
        return acct if "@" in acct else f"{acct}@{self.domain()}"

    def close(self) -> None:
        self.client.session.close()
