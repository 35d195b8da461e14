"""The sandbox social network over HTTP, its gateway, and its delivery to envoi."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from envoi.adapters.networks.sandbox import SandboxGateway, SandboxNetwork
from envoi.adapters.networks.sandbox.api import create_sandbox_router
from envoi.adapters.networks.sandbox.tables import sandbox_accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.ports import InboundPost, NetworkUser

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the httpx it finds works the same.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

BOT = "SmoneyFR"


@dataclass
class RecordingInbound:
    """A fake ``InboundPort`` that records deliveries and can be made to fail."""

    posts: list[InboundPost] = field(default_factory=list)
    deletions: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False

    def receive_post(self, post: InboundPost) -> None:
        if self.down:
            raise RuntimeError("envoi is down")
        self.posts.append(post)

    def receive_deletion(self, network: str, post_id: str) -> None:
        if self.down:
            raise RuntimeError("envoi is down")
        self.deletions.append((network, post_id))


@pytest.fixture
def network(engine: Engine) -> SandboxNetwork:
    return SandboxNetwork(engine, BOT)


@pytest.fixture
def inbound() -> RecordingInbound:
    return RecordingInbound()


@pytest.fixture
def gateway(network: SandboxNetwork) -> SandboxGateway:
    gateway = SandboxGateway(network, BOT)
    gateway.ensure_bot_account()
    return gateway


@pytest.fixture
def client(network: SandboxNetwork, inbound: RecordingInbound) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(create_sandbox_router(network, inbound, BOT), prefix="/sandbox/api")
    with TestClient(app) as client:
        yield client


def signup(client: TestClient, handle: str, name: str | None = None) -> dict[str, Any]:
    response = client.post(
        "/sandbox/api/accounts", json={"handle": handle, "display_name": name or handle.title()}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def auth(account: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {account['token']}"}


def post(client: TestClient, author: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/sandbox/api/posts", json={"text": text, **extra}, headers=auth(author))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


# --- Accounts ---------------------------------------------------------------------


def test_account_creation_returns_the_token_once_and_stores_only_its_hash(
    client: TestClient, engine: Engine
) -> None:
    alice = signup(client, "Alice_1", "Alice Martin")

    assert alice["id"].startswith("sbx_")
    assert (alice["handle"], alice["display_name"]) == ("Alice_1", "Alice Martin")
    profile = client.get("/sandbox/api/accounts/alice_1").json()
    assert profile == {k: alice[k] for k in ("id", "handle", "display_name", "created_at")}
    with engine.connect() as conn:
        stored = conn.execute(select(sandbox_accounts)).one()._asdict()
    assert stored["token_hash"] == hashlib.sha256(alice["token"].encode()).hexdigest()
    assert alice["token"] not in {str(v) for v in stored.values()}
    assert client.get("/sandbox/api/accounts/me", headers=auth(alice)).json()["id"] == alice["id"]


@pytest.mark.parametrize("taken", ["alice", "ALICE", "aLiCe"])
def test_handles_are_unique_case_insensitively(client: TestClient, taken: str) -> None:
    signup(client, "Alice")
    response = client.post("/sandbox/api/accounts", json={"handle": taken, "display_name": "X"})
    assert response.status_code == 409
    assert error_code(response) == "HANDLE_TAKEN"
    assert response.json()["error"]["message"]


@pytest.mark.parametrize("handle", ["smoneyfr", "SMONEYFR", "me"])
def test_the_bot_handle_and_me_are_reserved(client: TestClient, handle: str) -> None:
    response = client.post("/sandbox/api/accounts", json={"handle": handle, "display_name": "X"})
    assert response.status_code == 409
    assert error_code(response) == "HANDLE_TAKEN"


@pytest.mark.parametrize(
    "body",
    [
        {"handle": "a" * 16, "display_name": "Long"},
        {"handle": "", "display_name": "Empty"},
        {"handle": "al ice", "display_name": "Space"},
        {"handle": "élodie", "display_name": "Accent"},
        {"handle": "ａlice", "display_name": "Fullwidth"},
        {"handle": "bob\x00", "display_name": "Nul"},
        {"handle": "bob", "display_name": "   "},
        {"handle": "bob", "display_name": "x" * 51},
        {"handle": "bob", "display_name": "Bob\u202eevil"},
        {"handle": "bob", "display_name": "Bob\x00"},
        {"handle": "bob"},
        {"handle": 12, "display_name": "Number"},
    ],
)
def test_bad_account_input_is_422_not_500(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/sandbox/api/accounts", json=body)
    assert response.status_code == 422, response.text
    assert error_code(response) in {"VALIDATION_ERROR", "INVALID_HANDLE"}


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/sandbox/api/accounts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert error_code(response) == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sbt_wrong"}, {"Authorization": "Basic YWxpY2U6eA=="}],
)
def test_a_bad_token_is_401_everywhere(client: TestClient, headers: dict[str, str]) -> None:
    signup(client, "alice")
    calls = [
        client.post("/sandbox/api/posts", json={"text": "hi"}, headers=headers),
        client.patch("/sandbox/api/accounts/me", json={"handle": "x"}, headers=headers),
        client.get("/sandbox/api/accounts/alice/inbox", headers=headers),
        client.get("/sandbox/api/accounts/me", headers=headers),
        client.delete("/sandbox/api/posts/sbp_0123456789abcdef", headers=headers),
    ]
    for response in calls:
        assert response.status_code == 401
        assert error_code(response) == "UNAUTHENTICATED"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_rename_keeps_the_id_and_frees_the_old_handle(client: TestClient) -> None:
    alice = signup(client, "alice")
    renamed = client.patch(
        "/sandbox/api/accounts/me", json={"handle": "Alicia"}, headers=auth(alice)
    )
    assert renamed.status_code == 200
    assert (renamed.json()["id"], renamed.json()["handle"]) == (alice["id"], "Alicia")
    assert client.get("/sandbox/api/accounts/alice").status_code == 404
    assert client.get("/sandbox/api/accounts/alicia").json()["id"] == alice["id"]

    newcomer = signup(client, "alice")
    assert newcomer["id"] != alice["id"]
    # The old token still belongs to the renamed account, not to the new "alice".
    me = client.get("/sandbox/api/accounts/me", headers=auth(alice)).json()
    assert (me["id"], me["handle"]) == (alice["id"], "Alicia")


def test_rename_to_a_taken_handle_is_409_and_case_changes_are_allowed(
    client: TestClient,
) -> None:
    alice, _ = signup(client, "alice"), signup(client, "bob")
    taken = client.patch("/sandbox/api/accounts/me", json={"handle": "BOB"}, headers=auth(alice))
    assert taken.status_code == 409
    recased = client.patch(
        "/sandbox/api/accounts/me", json={"handle": "ALICE"}, headers=auth(alice)
    )
    assert recased.status_code == 200
    assert recased.json()["handle"] == "ALICE"
    bad = client.patch("/sandbox/api/accounts/me", json={"handle": "a-b"}, headers=auth(alice))
    assert bad.status_code == 422


@pytest.mark.parametrize("path", ["/accounts/nobody", "/accounts/%00", "/accounts/" + "x" * 300])
def test_unknown_profiles_are_404(client: TestClient, path: str) -> None:
    response = client.get("/sandbox/api" + path)
    assert response.status_code == 404
    assert error_code(response) == "NOT_FOUND"


# --- Posts and delivery --------------------------------------------------------------


def test_a_post_mentioning_the_bot_is_delivered_with_resolved_mentions(
    client: TestClient, inbound: RecordingInbound, gateway: SandboxGateway
) -> None:
    alice, bob = signup(client, "alice", "Alice"), signup(client, "bob", "Bob")
    text = "@smoneyfr #envoyer 5€ @Bob @carol"  # carol has no account
    created = post(client, alice, text)

    assert created["id"].startswith("sbp_")
    assert [m["handle"] for m in created["mentions"]] == [BOT, "bob"]
    [delivered] = inbound.posts
    assert delivered.network == "sandbox"
    assert delivered.post_id == created["id"]
    assert delivered.author == NetworkUser("sandbox", alice["id"], "alice", "Alice")
    assert delivered.text == text
    assert delivered.direct is False
    assert delivered.in_reply_to is None
    assert delivered.created_at is not None
    assert delivered.created_at.tzinfo is not None
    bot = gateway.ensure_bot_account()
    assert delivered.mentions == (bot, NetworkUser("sandbox", bob["id"], "bob", "Bob"))


@pytest.mark.parametrize(
    "text",
    [
        "hello @bob",
        "write to pay@SmoneyFR.com",
        "@SmoneyFRx #envoyer 5€ @bob",
        "see https://example.com/@SmoneyFR",
        "#envoyer 5€ ＠SmoneyFR",
        "@SmoneyFRé hi",
    ],
)
def test_posts_not_naming_the_bot_are_not_delivered(
    client: TestClient, inbound: RecordingInbound, network: SandboxNetwork, text: str
) -> None:
    alice = signup(client, "alice")
    post(client, alice, text)
    assert inbound.posts == []
    assert network.undelivered_for_bot() == []


def test_direct_messages_to_the_bot_are_delivered_as_direct(
    client: TestClient, inbound: RecordingInbound, gateway: SandboxGateway
) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob")
    by_to = post(client, alice, "#envoyer 5€ @bob", visibility="direct", to="smoneyfr")
    by_mention = post(client, alice, "@SmoneyFR #don 2€ @bob", visibility="direct")

    assert [p.post_id for p in inbound.posts] == [by_to["id"], by_mention["id"]]
    assert all(p.direct for p in inbound.posts)
    assert inbound.posts[0].mentions == (NetworkUser("sandbox", bob["id"], "bob", "Bob"),)
    assert by_to["to"]["handle"] == BOT
    assert by_to["visibility"] == "direct"


def test_a_dm_to_someone_else_naming_the_bot_stays_private(
    client: TestClient, inbound: RecordingInbound, gateway: SandboxGateway
) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob")
    dm = post(client, alice, "should I pay @SmoneyFR ?", visibility="direct", to="bob")

    assert inbound.posts == []
    assert [p["id"] for p in inbox_of(client, bob)] == [dm["id"]]
    bot_user = gateway.ensure_bot_account()
    assert gateway.network.get_post(dm["id"], viewer_id=bot_user.user_id) is None


def test_posts_by_the_bot_are_never_delivered(
    client: TestClient, inbound: RecordingInbound, gateway: SandboxGateway
) -> None:
    alice = signup(client, "alice")
    command = post(client, alice, "@SmoneyFR #envoyer 5€ @bob")
    reply_id = gateway.reply(
        command["id"], "@alice @SmoneyFR confirm in the app", idempotency_key="k1"
    )
    dm_id = gateway.direct_message(
        alice["id"], "@SmoneyFR your code is ready", idempotency_key="k2"
    )

    assert [p.post_id for p in inbound.posts] == [command["id"]]
    assert gateway.network.undelivered_for_bot() == []
    assert [p["id"] for p in inbox_of(client, alice)] == [dm_id, reply_id]
    reply = client.get(f"/sandbox/api/posts/{reply_id}").json()
    assert (reply["in_reply_to"], reply["visibility"]) == (command["id"], "public")
    assert reply["author"]["handle"] == BOT


def test_replies_from_the_bot_to_a_dm_stay_direct(
    client: TestClient, gateway: SandboxGateway
) -> None:
    alice = signup(client, "alice")
    dm = post(client, alice, "#envoyer 5€ @bob", visibility="direct", to=BOT)
    reply_id = gateway.reply(dm["id"], "Confirm 5 € to @bob?", idempotency_key="k1")

    reply = client.get(f"/sandbox/api/posts/{reply_id}", headers=auth(alice)).json()
    assert (reply["visibility"], reply["to"]["id"], reply["in_reply_to"]) == (
        "direct",
        alice["id"],
        dm["id"],
    )
    assert client.get(f"/sandbox/api/posts/{reply_id}").status_code == 404
    assert reply_id not in [p["id"] for p in client.get("/sandbox/api/timeline").json()]


def test_post_input_errors(client: TestClient) -> None:
    alice = signup(client, "alice")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"text": ""}, 422, "VALIDATION_ERROR"),
        ({"text": "x" * 501}, 422, "VALIDATION_ERROR"),
        ({"text": "a\x00b"}, 422, "VALIDATION_ERROR"),
        ({"text": "hi", "visibility": "secret"}, 422, "VALIDATION_ERROR"),
        ({"text": "hi", "visibility": "direct"}, 422, "VALIDATION_ERROR"),  # nobody to
        ({"text": "hi", "to": "alice"}, 422, "VALIDATION_ERROR"),  # ``to`` on a public post
        ({"text": "hi", "visibility": "direct", "to": "nobody"}, 404, "NOT_FOUND"),
        ({"text": "hi", "visibility": "direct", "to": "no body"}, 422, "INVALID_HANDLE"),
        ({"text": "hi", "in_reply_to": "sbp_0000000000000000"}, 404, "POST_NOT_FOUND"),
        ({"text": "hi", "in_reply_to": "x" * 100 + "\x00"}, 404, "POST_NOT_FOUND"),
    ]
    for body, status, code in cases:
        response = client.post("/sandbox/api/posts", json=body, headers=auth(alice))
        assert (response.status_code, error_code(response)) == (status, code), body
    lone_surrogate = b'{"text": "hi \\ud800"}'
    response = client.post(
        "/sandbox/api/posts",
        content=lone_surrogate,
        headers={**auth(alice), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_deletion_is_delivered_and_only_the_author_may_delete(
    client: TestClient, inbound: RecordingInbound
) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob")
    command = post(client, alice, "@SmoneyFR #envoyer 5€ @bob")
    chatter = post(client, alice, "nice weather")

    forbidden = client.delete(f"/sandbox/api/posts/{command['id']}", headers=auth(bob))
    assert (forbidden.status_code, error_code(forbidden)) == (403, "FORBIDDEN")
    assert inbound.deletions == []

    assert (
        client.delete(f"/sandbox/api/posts/{command['id']}", headers=auth(alice)).status_code == 204
    )
    assert inbound.deletions == [("sandbox", command["id"])]
    again = client.delete(f"/sandbox/api/posts/{command['id']}", headers=auth(alice))
    assert again.status_code == 404
    assert client.get(f"/sandbox/api/posts/{command['id']}").status_code == 404

    assert (
        client.delete(f"/sandbox/api/posts/{chatter['id']}", headers=auth(alice)).status_code == 204
    )
    assert inbound.deletions == [("sandbox", command["id"])]  # the bot never had that one
    assert client.get("/sandbox/api/timeline").json() == []
    assert client.delete("/sandbox/api/posts/%00", headers=auth(alice)).status_code == 404


def test_timeline_lists_public_posts_newest_first(client: TestClient) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob")
    first = post(client, alice, "first")
    second = post(client, bob, "second", in_reply_to=first["id"])
    post(client, alice, "a secret for @bob", visibility="direct")
    third = post(client, alice, "third")

    timeline = client.get("/sandbox/api/timeline").json()
    assert [p["id"] for p in timeline] == [third["id"], second["id"], first["id"]]
    assert timeline[1]["in_reply_to"] == first["id"]
    assert timeline[0]["author"] == {"id": alice["id"], "handle": "alice", "display_name": "Alice"}
    limited = client.get("/sandbox/api/timeline", params={"limit": 1}).json()
    assert [p["id"] for p in limited] == [third["id"]]
    assert client.get("/sandbox/api/timeline", params={"limit": 0}).status_code == 422


def inbox_of(client: TestClient, account: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(f"/sandbox/api/accounts/{account['handle']}/inbox", headers=auth(account))
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def test_inbox_holds_replies_dms_and_mentions_newest_first(client: TestClient) -> None:
    alice, bob, carol, dave = (signup(client, h) for h in ("alice", "bob", "carol", "dave"))
    mine = post(client, alice, "my post, mentioning @alice myself")
    reply = post(client, bob, "a reply", in_reply_to=mine["id"])
    dm = post(client, carol, "psst", visibility="direct", to="alice")
    mention = post(client, dave, "hey @ALICE")
    group_dm = post(client, carol, "@alice @bob dinner?", visibility="direct")
    # Not for alice: a DM to bob naming her, a private reply to her post sent to dave,
    # a post of nobody's concern.
    post(client, carol, "about @alice", visibility="direct", to="bob")
    post(client, bob, "private reply", visibility="direct", to="dave", in_reply_to=mine["id"])
    post(client, dave, "unrelated")

    assert [p["id"] for p in inbox_of(client, alice)] == [
        group_dm["id"],
        mention["id"],
        dm["id"],
        reply["id"],
    ]
    assert group_dm["id"] in [p["id"] for p in inbox_of(client, bob)]


def test_inbox_needs_that_accounts_token(client: TestClient) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob")
    other = client.get("/sandbox/api/accounts/alice/inbox", headers=auth(bob))
    assert (other.status_code, error_code(other)) == (403, "FORBIDDEN")
    missing = client.get("/sandbox/api/accounts/nobody/inbox", headers=auth(bob))
    assert missing.status_code == 404
    assert client.get("/sandbox/api/accounts/ALICE/inbox", headers=auth(alice)).status_code == 200


def test_direct_posts_are_visible_to_participants_only(client: TestClient) -> None:
    alice, bob, eve = signup(client, "alice"), signup(client, "bob"), signup(client, "eve")
    dm = post(client, alice, "just for @bob", visibility="direct")
    url = f"/sandbox/api/posts/{dm['id']}"
    assert client.get(url, headers=auth(bob)).status_code == 200
    assert client.get(url, headers=auth(alice)).status_code == 200
    assert client.get(url, headers=auth(eve)).status_code == 404
    assert client.get(url).status_code == 404
    reply = client.post(
        "/sandbox/api/posts", json={"text": "me too", "in_reply_to": dm["id"]}, headers=auth(eve)
    )
    assert reply.status_code == 404


# --- Gateway ------------------------------------------------------------------------


def test_gateway_looks_up_users_and_verifies_links(
    client: TestClient, gateway: SandboxGateway
) -> None:
    alice = signup(client, "Alice", "Alice M")
    expected = NetworkUser("sandbox", alice["id"], "Alice", "Alice M")
    assert gateway.name == "sandbox"
    assert gateway.lookup_user("@alice") == expected
    assert gateway.lookup_user("ALICE") == expected
    assert gateway.lookup_user("nobody") is None
    assert gateway.lookup_user("not a handle") is None
    assert gateway.verify_link(alice["token"]) == expected
    for bad in ("", "sbt_forged", alice["token"] + "x", "\x00"):
        with pytest.raises(EnvoiError) as refused:
            gateway.verify_link(bad)
        assert refused.value.code is ErrorCode.INVALID_NETWORK_TOKEN

    client.patch("/sandbox/api/accounts/me", json={"handle": "Alicia"}, headers=auth(alice))
    assert gateway.lookup_user("alice") is None
    assert gateway.verify_link(alice["token"]).user_id == alice["id"]


def test_gateway_errors_and_bot_account_idempotence(
    network: SandboxNetwork, gateway: SandboxGateway
) -> None:
    first = gateway.ensure_bot_account()
    assert SandboxGateway(network, "smoneyfr").ensure_bot_account() == first
    assert network.get_by_handle(BOT) is not None
    with pytest.raises(EnvoiError) as missing:
        gateway.reply("sbp_0000000000000000", "hi", idempotency_key="k1")
    assert missing.value.code is ErrorCode.POST_NOT_FOUND
    with pytest.raises(EnvoiError) as nobody:
        gateway.direct_message("sbx_0000000000000000", "hi", idempotency_key="k2")
    assert nobody.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(ValueError, match="bot handle"):
        SandboxGateway(network, "SomeoneElse")


# --- Catch-up -----------------------------------------------------------------------


def test_posts_committed_but_not_delivered_are_caught_up(
    client: TestClient, inbound: RecordingInbound, network: SandboxNetwork
) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob", "Bob")
    inbound.down = True
    command = post(client, alice, "@SmoneyFR #envoyer 5€ @bob")  # the post still succeeds
    assert inbound.posts == []
    [pending] = network.undelivered_for_bot()
    assert (pending.post_id, pending.deletion) == (command["id"], False)

    # Mentions were resolved when posted: a rename in between changes nothing.
    client.patch("/sandbox/api/accounts/me", json={"handle": "robert"}, headers=auth(bob))
    assert network.deliver_pending(inbound) == 0  # still down: stays pending
    inbound.down = False
    assert network.deliver_pending(inbound) == 1
    [delivered] = inbound.posts
    assert delivered.post_id == command["id"]
    assert delivered.mentions == (NetworkUser("sandbox", bob["id"], "bob", "Bob"),)
    assert network.undelivered_for_bot() == []
    assert network.deliver_pending(inbound) == 0


def test_catch_up_delivers_deletions_and_skips_posts_deleted_unseen(
    client: TestClient, inbound: RecordingInbound, network: SandboxNetwork
) -> None:
    alice = signup(client, "alice")
    seen = post(client, alice, "@SmoneyFR #envoyer 1€ @bob")
    inbound.down = True
    unseen = post(client, alice, "@SmoneyFR #envoyer 2€ @bob")
    for p in (seen, unseen):
        assert (
            client.delete(f"/sandbox/api/posts/{p['id']}", headers=auth(alice)).status_code == 204
        )
    assert [(d.post_id, d.deletion) for d in network.undelivered_for_bot()] == [
        (seen["id"], True),
        (unseen["id"], True),
    ]
    inbound.down = False
    assert network.deliver_pending(inbound) == 2
    assert [p.post_id for p in inbound.posts] == [seen["id"]]
    assert inbound.deletions == [("sandbox", seen["id"]), ("sandbox", unseen["id"])]


def test_undelivered_pages_by_cursor_oldest_first(
    client: TestClient, inbound: RecordingInbound, network: SandboxNetwork
) -> None:
    alice = signup(client, "alice")
    inbound.down = True
    ids = [post(client, alice, f"@SmoneyFR #envoyer {n}€ @bob")["id"] for n in (1, 2, 3)]
    page = network.undelivered_for_bot(None, limit=2)
    assert [d.post_id for d in page] == ids[:2]
    rest = network.undelivered_for_bot(page[-1].cursor, limit=2)
    assert [d.post_id for d in rest] == ids[2:]
    assert network.undelivered_for_bot(rest[-1].cursor) == []
    inbound.down = False
    assert network.deliver_pending(inbound, batch=2) == 3
    assert [p.post_id for p in inbound.posts] == ids


def test_a_deletion_landing_during_delivery_is_still_owed(
    client: TestClient, network: SandboxNetwork
) -> None:
    alice = signup(client, "alice")
    inbound = RecordingInbound(down=True)
    command = network.post(alice["id"], "@SmoneyFR #envoyer 5€ @bob")

    class DeletesWhileReceiving(RecordingInbound):
        def receive_post(self, post: InboundPost) -> None:
            network.delete(alice["id"], post.post_id)  # the author deletes meanwhile
            super().receive_post(post)

    racing = DeletesWhileReceiving()
    assert network.deliver(command.id, racing) is True
    assert [(d.post_id, d.deletion) for d in network.undelivered_for_bot()] == [(command.id, True)]
    inbound.down = False
    assert network.deliver_pending(inbound) == 1
    assert inbound.deletions == [("sandbox", command.id)]
