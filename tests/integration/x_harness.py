"""envoi on X, against the X stand-in (``tests/networks/x_standin.py``): people act on the
stand-in; X's webhook deliveries are posted to envoi's ``/webhooks/x`` as X signs them;
the catch-up reader and every reply or DM go to the stand-in over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from fastapi.testclient import TestClient

from envoi.bootstrap import Envoi, bootstrap, prepare
from envoi.config import Settings, XSettings
from envoi.domain.model import Member
from envoi.web.app import create_app
from tests.integration.flow_app import FakeClock
from tests.networks.contract import Person, enrol
from tests.networks.x_standin import XWorld

BOT = "SmoneyFR"


def x_settings(standin: XWorld, **overrides: object) -> XSettings:
    keys = standin.state.keys
    values: dict[str, object] = {
        "api_base_url": standin.url,
        "consumer_key": keys.consumer_key,
        "consumer_secret": keys.consumer_secret,
        "access_token": keys.access_token,
        "access_token_secret": keys.access_token_secret,
        "bot_user_id": standin.state.bot_id,
        "client_id": keys.client_id,
        "authorize_url": f"{standin.url}/i/oauth2/authorize",
        "poll_interval_s": 0,
        "rate_limit_wait_s": 3,
        "daily_budget_usd": Decimal("20"),
        **overrides,
    }
    return XSettings(**values)  # type: ignore[arg-type]


class XHarness:
    network = "x"
    bot_at = f"@{BOT}"

    def __init__(self, standin: XWorld, database_url: str, **x_overrides: object) -> None:
        self.standin = standin
        standin.reset(BOT)
        self.database_url = database_url
        self.x_overrides = x_overrides
        self.clock = FakeClock()
        self._down = False
        self._last: list[tuple[bytes, str]] = []
        self._build()

    def _build(self) -> None:
        settings = Settings(
            database_url=self.database_url,
            sandbox=True,
            networks=("x",),
            card_processor="sandbox",
            bot_handle=BOT,
            x=x_settings(self.standin, **self.x_overrides),
        )
        self.app: Envoi = bootstrap(settings, clock=self.clock)
        prepare(self.app)
        self.web = TestClient(create_app(self.app, run_workers=False))

    def close(self) -> None:
        self.web.close()
        self.app.ctx.gateways["x"].api.close()  # type: ignore[attr-defined]
        self.app.engine.dispose()

    # --- people -----------------------------------------------------------------

    def person(self, name: str, *, funds: int = 0, member: bool = True) -> Person:
        user = self.standin.create_user(name)
        person = Person(name, None, user["id"], name)
        if member:
            enrol(self, person, email=f"{name}-x@example.org", funds=funds, topup_key=f"x-{name}")
        return person

    def link(self, person: Person, member: Member) -> None:
        issued = self.app.linking.start(member.id, "x", person.handle)
        self.dm(person, f"Mon code : {issued.code}")
        self.ingest()
        self.app.delivery.deliver_due()  # "account linked", by DM

    def mention(self, author: Person, text: str) -> str:
        return str(self.standin.post(author.user_id, text)["id"])

    def dm(self, author: Person, text: str) -> str:
        return str(self.standin.dm(author.user_id, self.standin.state.bot_id, text)["id"])

    # --- envoi hearing it ---------------------------------------------------------

    def deliver_webhooks(self) -> list[int]:
        """X's pending webhook POSTs to envoi (lost while envoi was unreachable)."""
        statuses = []
        for body, signature in self.standin.take_webhooks():
            if self._down:
                continue
            self._last.append((body, signature))
            answer = self.web.post(
                "/webhooks/x",
                content=body,
                headers={
                    "x-twitter-webhooks-signature": signature,
                    "content-type": "application/json",
                },
            )
            statuses.append(answer.status_code)
        return statuses

    def ingest(self) -> None:
        assert all(status == 200 for status in self.deliver_webhooks())
        self.app.ingests["x"].step()

    def replay(self) -> None:
        for body, signature in self._last:
            answer = self.web.post(
                "/webhooks/x", content=body, headers={"x-twitter-webhooks-signature": signature}
            )
            assert answer.status_code == 200

    def restart(self) -> None:
        self.close()
        self._build()

    def received(self, person: Person) -> list[str]:
        self.app.delivery.deliver_due()
        return self.standin.received(person.user_id)

    def dms(self, person: Person) -> list[str]:
        self.app.delivery.deliver_due()
        return self.standin.dms_to(person.user_id)

    def rename(self, person: Person, new_handle: str) -> None:
        self.standin.rename(person.user_id, new_handle)
        person.handle = new_handle

    def delete(self, author: Person, post_id: str) -> None:
        assert self.standin.state.tweets[post_id]["author_id"] == author.user_id
        self.standin.delete(post_id)

    def bot_posts(self, text: str) -> str:
        return str(self.standin.post(self.standin.state.bot_id, text)["id"])

    @contextmanager
    def outage(self) -> Iterator[None]:
        self._down = True
        try:
            with self.standin.outage():
                yield
            self.deliver_webhooks()  # what X sent meanwhile never arrived
        finally:
            self._down = False
