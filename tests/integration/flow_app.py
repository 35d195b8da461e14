"""The assembled service on the test database with a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from envoi.bootstrap import Envoi, bootstrap, prepare
from envoi.config import Settings
from envoi.domain.model import Member, Privacy
from envoi.services.ports import CardDetails

CARD = CardDetails("4242424242424242", 12, 2034, "123")
PIN = "2580"
BOT = "SmoneyFR"


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class Someone:
    member: Member
    handle: str
    sandbox_id: str
    token: str


@dataclass
class World:
    app: Envoi
    clock: FakeClock
    people: dict[str, Someone] = field(default_factory=dict)

    def person(self, handle: str, *, funds: int = 0, member: bool = True, **kw: object) -> Someone:
        account = self.app.sandbox.create_account(handle, handle.title())
        if not member:
            return Someone(None, handle, account.account.id, account.token)  # type: ignore[arg-type]
        created = self.app.members.register(
            email=f"{handle}@example.org",
            password="long enough password",
            display_name=handle.title(),
            locale="fr",
            # These stories read the public replies; the default (discreet) has its own test.
            **{"privacy": Privacy.PUBLIC, **kw},  # type: ignore[arg-type]
        )
        self.app.members.set_pin(created.id, PIN)
        self.app.members.link_identity(created.id, "sandbox", account.token)
        if funds:
            topup = self.app.funding.top_up(created.id, funds, CARD, request_key=f"seed-{handle}")
            assert topup.status == "succeeded"
        someone = Someone(created, handle, account.account.id, account.token)
        self.people[handle] = someone
        return someone

    def post(self, who: Someone, text: str, **kw: object) -> str:
        post = self.app.sandbox.post(who.sandbox_id, text, **kw)  # type: ignore[arg-type]
        self.app.sandbox.deliver(post.id, self.app.intake)
        return post.id

    def available(self, who: Someone) -> int:
        return self.app.wallet.balance(who.member.id).available

    def posted(self, who: Someone) -> int:
        return self.app.wallet.balance(who.member.id).posted

    def pending(self, who: Someone) -> list[str]:
        return [i.id for i in self.app.wallet.to_confirm(who.member.id)]

    def replies(self, who: Someone) -> list[str]:
        self.app.delivery.deliver_due()
        return [p.text for p in self.app.sandbox.inbox(who.sandbox_id)]


def make_world(database_url: str, **settings: object) -> World:
    clock = FakeClock()
    settings.setdefault("sandbox", True)  # the flow tests pay through the sandbox everywhere
    app = bootstrap(Settings(database_url=database_url, **settings), clock=clock)  # type: ignore[arg-type]
    prepare(app)
    return World(app, clock)
