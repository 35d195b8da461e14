"""What a new user hit trying envoi (issue 10), each kept fixed: PINs, privacy, the
confirmation page telling the truth about the payee, the demo's commands and links."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from envoi import cli
from envoi.config import get_settings
from envoi.demo import ORGANISATION_LEGAL_NAME, seed
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import Privacy
from envoi.services.ports import CardDetails
from envoi.web.app import create_app
from tests.integration.flow_app import BOT, PIN, World, make_world

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # see test_sandbox_network
    from fastapi.testclient import TestClient

PASSWORD = "long enough password"


@pytest.fixture
def browser(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.app, run_workers=False)) as client:
        yield client


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = client.post(
        "/login", data={"csrf": csrf.group(1), "email": email, "password": password}
    )
    assert answer.status_code in (200, 303), answer.text


def test_obvious_pins_are_refused_and_the_demo_keeps_its_own(world: World) -> None:
    nina = world.person("nina")
    for obvious in ("0000", "1111", "1234", "9876", "1212"):
        with pytest.raises(EnvoiError) as refused:
            world.app.members.set_pin(nina.member.id, obvious, current_password=PASSWORD)
        assert refused.value.code is ErrorCode.OBVIOUS_PIN
    seed(world.app)  # the demo story's published PIN (1234) is its exception
    token = world.app.members.issue_token("alice@demo.envoi", "demo-password")
    assert world.app.members.authenticate(token).has_pin


def test_new_members_start_discreet_and_the_operator_chooses(
    world: World, database_url: str
) -> None:
    member = world.app.members.register(
        email="new@example.org", password=PASSWORD, display_name="New", locale="fr"
    )
    assert member.privacy is Privacy.DISCREET
    # Discreet: the bot's public answer names neither the amount nor the payee.
    nina = world.person("nina", funds=20_00, privacy=Privacy.DISCREET)
    world.person("bob")
    world.post(nina, f"@{BOT} #envoyer 7€ @bob")
    replies = world.replies(nina)
    assert replies
    assert all("7,00" not in r and "Bob" not in r for r in replies)
    world.app.engine.dispose()
    private_by_default = make_world(database_url, default_privacy="private")
    try:
        other = private_by_default.app.members.register(
            email="other@example.org", password=PASSWORD, display_name="Other", locale="en"
        )
        assert other.privacy is Privacy.PRIVATE
    finally:
        private_by_default.app.engine.dispose()


def test_no_stale_no_wallet_warning_once_the_payee_has_one(
    world: World, browser: TestClient
) -> None:
    alice = world.person("alice", funds=20_00)
    carol = world.person("carol", member=False)
    world.post(alice, f"@{BOT} #envoyer 3€ @carol")
    (intent_id,) = world.pending(alice)
    sign_in(browser, "alice@example.org")
    before = browser.get(f"/wallet/intents/{intent_id}").text
    assert "pas encore de portefeuille" in before
    # Carol opens a wallet (named "Carol Petit") and links the account Alice paid.
    joined = world.app.members.register(
        email="carol@example.org", password=PASSWORD, display_name="Carol Petit", locale="fr"
    )
    world.app.members.link_identity(joined.id, "sandbox", carol.token)
    after = browser.get(f"/wallet/intents/{intent_id}").text
    assert "pas encore de portefeuille" not in after
    assert "Carol Petit" in after  # one name per person: her wallet name now


def test_a_verified_organisation_shows_its_badge_and_legal_name(
    world: World, browser: TestClient
) -> None:
    seed(world.app)
    alice = world.app.members.authenticate(
        world.app.members.issue_token("alice@demo.envoi", "demo-password")
    )
    post = world.app.sandbox.post(
        world.app.sandbox.get_by_handle("alice").id,  # type: ignore[union-attr]
        f"@{BOT} #don 2€ @restos_demo",
    )
    world.app.sandbox.deliver(post.id, world.app.intake)
    (donation,) = [i for i in world.app.wallet.to_confirm(alice.id) if i.kind.value == "donate"]
    sign_in(browser, "alice@demo.envoi", "demo-password")
    page = browser.get(f"/wallet/intents/{donation.id}").text
    assert 'id="payee-verified"' in page
    assert "Organisation vérifiée" in page
    assert ORGANISATION_LEGAL_NAME.replace("'", "&#39;") in page
    # Paying a person shows no badge.
    post = world.app.sandbox.post(
        world.app.sandbox.get_by_handle("alice").id,  # type: ignore[union-attr]
        f"@{BOT} #envoyer 1€ @bob",
    )
    world.app.sandbox.deliver(post.id, world.app.intake)
    (to_bob,) = [i for i in world.app.wallet.to_confirm(alice.id) if i.kind.value == "send"
                 and i.payee.handle == "bob" and i.amount.minor == 1_00]  # fmt: skip
    assert 'id="payee-verified"' not in browser.get(f"/wallet/intents/{to_bob.id}").text


def run_cli(database_url: str, *args: str, **env: str) -> str:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            # ENVOI_SANDBOX: the demo and the sandbox network run on PostgreSQL only with it.
            cli.app,
            list(args),
            env={"ENVOI_DATABASE_URL": database_url, "ENVOI_SANDBOX": "1", **env},
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def test_commands_link_to_the_running_server_not_port_8000(world: World, database_url: str) -> None:
    # `PORT=8123 make run` seeds the demo for that port…
    seeded = run_cli(database_url, "demo", "--once", "--port", "8123")
    assert "Alice posted" in seeded
    alice = world.app.sandbox.get_by_handle("alice")
    assert alice is not None
    world.app.delivery.deliver_due()
    answers = [p.text for p in world.app.sandbox.inbox(alice.id)]
    assert answers
    assert all("127.0.0.1:8000" not in a for a in answers)
    assert any("http://127.0.0.1:8123/" in a for a in answers)
    # …and `envoi run` records where it listens; a later one-shot command follows it.
    cli._record_base_url(world.app.settings, "http://127.0.0.1:8123")
    out = run_cli(database_url, "sandbox", "post", "--as", "bob", f"@{BOT} #envoyer 1€ @alice")
    assert "http://127.0.0.1:8123/" in out
    assert "127.0.0.1:8000" not in out
    # ENVOI_BASE_URL (a proxy in front) wins over both.
    out = run_cli(
        database_url,
        "sandbox",
        "post",
        "--as",
        "bob",
        f"@{BOT} #envoyer 2€ @alice",
        ENVOI_BASE_URL="https://pay.example.org",
    )
    assert "https://pay.example.org/" in out


def test_a_later_demo_start_says_only_what_is_true(world: World, database_url: str) -> None:
    run_cli(database_url, "demo", "--once")
    alice = world.app.members.authenticate(
        world.app.members.issue_token("alice@demo.envoi", "demo-password")
    )
    (waiting,) = world.app.wallet.to_confirm(alice.id)
    world.app.lifecycle.confirm(alice.id, waiting.id, "1234")
    again = run_cli(database_url, "demo", "--once")
    assert "Alice has a payment to confirm" in again
    assert "posted again" in again
    assert len(world.app.wallet.to_confirm(alice.id)) == 1  # the sentence is true
    assert "Carol (no wallet yet) has a new sandbox token" in again


def test_the_wallet_example_never_suggests_paying_oneself(
    world: World, browser: TestClient
) -> None:
    world.person("alice")
    bob = world.person("bob", funds=10_00)
    sign_in(browser, "bob@example.org")
    page = browser.get("/wallet").text
    assert "5€ @bob" not in page
    assert "5€ @pseudo" in page  # a neutral placeholder until Bob has paid someone
    world.post(bob, f"@{BOT} #envoyer 2€ @alice")
    (intent_id,) = world.pending(bob)
    world.app.lifecycle.confirm(bob.member.id, intent_id, PIN)
    assert "5€ @alice" in browser.get("/wallet").text  # then someone he has paid


def test_a_near_miss_gets_the_syntax_once(world: World) -> None:
    bob = world.person("bob", funds=10_00)
    world.person("alice")
    world.post(bob, f"@{BOT} envoyer 5€ @alice")
    replies = world.replies(bob)
    assert len(replies) == 1
    assert "#envoyer" in replies[0]
    assert "manque la commande" in replies[0]
    assert world.pending(bob) == []  # nothing to confirm, nothing held
    assert world.available(bob) == 10_00
    world.post(bob, f"@{BOT} envoyer 6€ @alice")  # the same day: not answered again
    assert len(world.replies(bob)) == 1
    world.clock.advance(days=1)
    world.post(bob, f"@{BOT} envoyer 7€ @alice")
    assert len(world.replies(bob)) == 2
    world.post(bob, f"@{BOT} bonjour, merci pour tout")  # chatter: no answer
    assert len(world.replies(bob)) == 2


def test_only_money_that_moved_shows_in_the_history(world: World) -> None:
    nina = world.person("nina", funds=10_00)
    funding, wallet = world.app.funding, world.app.wallet
    expired = CardDetails("4000000000000069", 12, 2034, "123")
    declined = funding.top_up(nina.member.id, 15_50, expired, request_key="typo")
    assert declined.status == "declined"  # said in the answer itself…
    challenge = CardDetails("4000000000003220", 12, 2034, "123")
    waiting = funding.top_up(nina.member.id, 15_50, challenge, request_key="3ds")
    assert waiting.status == "requires_action"
    lines = {m.id: m for m in wallet.history(nina.member.id)}
    assert declined.id not in lines  # …so neither a history row…
    texts = [n["text"] for n in wallet.notifications(nina.member.id)]
    assert not any("refusé" in t for t in texts)  # …nor a notification
    assert lines[waiting.id].state == "requires_action"  # waiting, not money
    # An unanswered challenge expires from the history after an hour.
    world.clock.advance(hours=1, seconds=1)
    assert waiting.id not in {m.id for m in wallet.history(nina.member.id)}
    assert wallet.balance(nina.member.id).posted == 10_00


def test_a_waiting_top_up_is_not_shown_as_money(world: World, browser: TestClient) -> None:
    nina = world.person("nina")
    challenge = CardDetails("4000000000003220", 12, 2034, "123")
    world.app.funding.top_up(nina.member.id, 15_50, challenge, request_key="3ds")
    sign_in(browser, "nina@example.org")
    page = browser.get("/wallet").text
    assert "15,50" in page
    assert "+15,50" not in page
