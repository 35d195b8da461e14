"""Each network's way of writing a payee: Matrix ids, Bluesky domain handles, Mastodon
accounts; structured mentions beat display text; X keeps twitter-text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envoi.commands import parse
from envoi.commands.handles import BLUESKY, MASTODON, MATRIX, X, grammar_for
from envoi.domain.errors import ErrorCode
from envoi.money import Money

# Plain text strategies with fixed ends (from_regex is too slow for the health check).
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
LABEL = st.builds(
    lambda first, middle: first + middle.strip("-"),
    st.sampled_from(ALNUM),
    st.text(alphabet=ALNUM + "-", max_size=10),
)
TLD = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
    st.text(ALNUM, min_size=1, max_size=5),
)
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL, min_size=1, max_size=3), TLD
)
LOCALPART = st.builds(
    lambda first, rest: (first + rest).rstrip(".-/"),
    st.sampled_from(ALNUM),
    st.text(ALNUM + "._=-/+", max_size=19),
)
MATRIX_ID = st.builds(lambda local, server: f"{local}:{server}", LOCALPART, DOMAIN)
TRAILING = st.sampled_from(["", ".", " !", ",", ":", ")", " merci"])

MATRIX_BOT = "envoi:example.org"
BLUESKY_BOT = "envoi.bsky.social"


# --- Matrix ---------------------------------------------------------------------------


@given(payee=MATRIX_ID, after=TRAILING)
def test_matrix_a_typed_user_id_names_the_payee(payee: str, after: str) -> None:
    result = parse(
        f"@{MATRIX_BOT} #envoyer 5€ @{payee}{after}",
        author="alice:example.org",
        bot=MATRIX_BOT,
        grammar=MATRIX,
    )
    assert result.kind == "send"
    assert result.payee == MATRIX.key(payee)
    assert result.amount == Money(5_00, "EUR")


@given(local=LOCALPART)
def test_matrix_a_bare_localpart_is_nobody(local: str) -> None:
    # "@bob" on Matrix could be anyone on any server: never guessed.
    result = parse(
        f"@{MATRIX_BOT} #envoyer 5€ @{local}",
        author="alice:example.org",
        bot=MATRIX_BOT,
        grammar=MATRIX,
    )
    assert result.kind == "invalid"
    assert result.error is ErrorCode.MISSING_PAYEE


@given(payee=MATRIX_ID)
def test_matrix_a_forged_character_is_refused_not_shortened(payee: str) -> None:
    forged = payee.replace("e", "е", 1) if "e" in payee else payee + "е"  # Cyrillic е
    result = parse(
        f"@{MATRIX_BOT} #envoyer 5€ @{forged}",
        author="alice:example.org",
        bot=MATRIX_BOT,
        grammar=MATRIX,
    )
    assert result.kind == "invalid"
    assert result.error is ErrorCode.LOOKALIKE_CHARACTERS


@given(payee=MATRIX_ID, shown=st.sampled_from(["Bob", "bob", "Robert 🎉", ""]))
def test_matrix_structured_mentions_beat_display_text(payee: str, shown: str) -> None:
    # Element sends pills as display names in the body and the ids in m.mentions.
    result = parse(
        f"envoi: #envoyer 5€ {shown}",
        author="alice:example.org",
        bot=MATRIX_BOT,
        grammar=MATRIX,
        mentioned=[MATRIX_BOT, payee],
    )
    assert result.kind == "send"
    assert result.payee == MATRIX.key(payee)


@given(payee=MATRIX_ID, other=MATRIX_ID)
def test_matrix_typed_id_that_disagrees_with_the_mentions_is_refused(
    payee: str, other: str
) -> None:
    result = parse(
        f"@{MATRIX_BOT} #envoyer 5€ @{other}",
        author="alice:example.org",
        bot=MATRIX_BOT,
        grammar=MATRIX,
        mentioned=[payee],
    )
    if MATRIX.key(payee) == MATRIX.key(other):
        assert result.payee == MATRIX.key(payee)
    else:
        assert result.error is ErrorCode.MULTIPLE_PAYEES


def test_matrix_empty_mentions_fall_back_to_the_typed_id() -> None:
    # Element sends "m.mentions": {} when nothing was picked.
    result = parse(
        f"@{MATRIX_BOT} #envoyer 5€ @bob:example.org",
        author="alice:example.org",
        bot=MATRIX_BOT,
        grammar=MATRIX,
        mentioned=[],
    )
    assert result.payee == "bob:example.org"


def test_matrix_localparts_keep_their_case_servers_do_not() -> None:
    assert MATRIX.key("@Bob:Example.ORG") == "Bob:example.org"
    assert MATRIX.key("bob:example.org") != MATRIX.key("Bob:example.org")


def test_matrix_ports_and_email_addresses() -> None:
    with_port = parse(
        f"@{MATRIX_BOT} #envoyer 5€ @bob:localhost:8448",
        author="alice:localhost",
        bot=MATRIX_BOT,
        grammar=MATRIX,
    )
    assert with_port.payee == "bob:localhost:8448"
    assert with_port.amount == Money(5_00, "EUR")
    email = parse(
        f"@{MATRIX_BOT} #envoyer 5€ to bob@example.org",
        author="alice:localhost",
        bot=MATRIX_BOT,
        grammar=MATRIX,
    )
    assert email.error is ErrorCode.MISSING_PAYEE


def test_matrix_the_bot_named_only_by_its_pill_is_addressed() -> None:
    result = parse(
        "#envoyer 5€ @bob:example.org",
        author="alice:example.org",
        bot=MATRIX_BOT,
        grammar=MATRIX,
        mentioned=[MATRIX_BOT],
    )
    assert result.payee == "bob:example.org"
    not_addressed = parse(
        "#envoyer 5€ @bob:example.org", author="alice:example.org", bot=MATRIX_BOT, grammar=MATRIX
    )
    assert not_addressed.kind == "not_a_command"


# --- Bluesky --------------------------------------------------------------------------


@given(payee=DOMAIN, after=TRAILING)
def test_bluesky_a_domain_handle_names_the_payee(payee: str, after: str) -> None:
    result = parse(
        f"@{BLUESKY_BOT} #envoyer 5€ @{payee}{after}",
        author="alice.bsky.social",
        bot=BLUESKY_BOT,
        grammar=BLUESKY,
    )
    if payee == BLUESKY_BOT:
        assert result.error is ErrorCode.PAYEE_IS_BOT
    elif payee == "alice.bsky.social":
        assert result.error is ErrorCode.SELF_PAYMENT
    else:
        assert result.kind == "send"
        assert result.payee == payee.lower()


@given(label=LABEL)
def test_bluesky_a_single_label_is_nobody(label: str) -> None:
    result = parse(
        f"@{BLUESKY_BOT} #envoyer 5€ @{label}",
        author="alice.bsky.social",
        bot=BLUESKY_BOT,
        grammar=BLUESKY,
    )
    assert result.error is ErrorCode.MISSING_PAYEE


def test_bluesky_handles_compare_case_insensitively_and_facets_count() -> None:
    result = parse(
        "@Envoi.Bsky.Social #envoyer 5€ @Bob.Example.FR",
        author="alice.bsky.social",
        bot=BLUESKY_BOT,
        grammar=BLUESKY,
        mentioned=["bob.example.fr"],
    )
    assert result.payee == "bob.example.fr"


# --- Mastodon (room left for the next issue) ------------------------------------------


@given(user=st.text(ALNUM + "_", min_size=1, max_size=20), server=DOMAIN)
def test_mastodon_remote_accounts(user: str, server: str) -> None:
    result = parse(
        f"@envoi@bank.example #envoyer 5€ @{user}@{server}",
        author="alice@bank.example",
        bot="envoi@bank.example",
        grammar=MASTODON,
    )
    assert result.payee == f"{user}@{server}"


# --- X stays twitter-text -------------------------------------------------------------


def test_x_reads_a_matrix_id_as_twitter_text_does() -> None:
    result = parse("@SmoneyFR #envoyer 5€ @bob:example.org", author="alice", grammar=X)
    assert result.payee == "bob"


@given(text=st.text(max_size=80), grammar=st.sampled_from([MATRIX, BLUESKY, MASTODON]))
def test_no_grammar_ever_raises(text: str, grammar: object) -> None:
    assert grammar in (MATRIX, BLUESKY, MASTODON)
    bot = {MATRIX: MATRIX_BOT, BLUESKY: BLUESKY_BOT, MASTODON: "envoi@bank.example"}[grammar]  # type: ignore[index]
    result = parse(text, author="someone.example.org", bot=bot, grammar=grammar)  # type: ignore[arg-type]
    assert result.kind in ("send", "donate", "request", "pot", "invalid", "not_a_command")


def test_unknown_grammar() -> None:
    with pytest.raises(ValueError, match="no handle grammar"):
        grammar_for("myspace")
