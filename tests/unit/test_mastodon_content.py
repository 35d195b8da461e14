"""A status's HTML as Mastodon renders it, turned into the text the parser reads."""

from __future__ import annotations

from envoi.adapters.networks.mastodon.content import status_text
from envoi.commands import parse
from envoi.commands.handles import MASTODON
from envoi.money import Money

# As mastodon.social renders a status written "@envoi #envoyer 5€ @bob@piaille.fr"
# (the remote mention shows only "@bob": its instance is in the link alone).
REAL = (
    '<p><span class="h-card" translate="no"><a href="https://mastodon.social/@envoi" '
    'class="u-url mention">@<span>envoi</span></a></span> <a href="https://mastodon.social/'
    'tags/envoyer" class="mention hashtag" rel="tag">#<span>envoyer</span></a> 5€ '
    '<span class="h-card" translate="no"><a href="https://piaille.fr/@bob" class="u-url '
    'mention">@<span>bob</span></a></span></p>'
)
MENTIONS = {
    "https://mastodon.social/@envoi": "envoi@mastodon.social",
    "https://piaille.fr/@bob": "bob@piaille.fr",
}


def test_h_card_mentions_become_the_full_handle_of_the_resolved_account() -> None:
    assert status_text(REAL, MENTIONS) == "@envoi@mastodon.social #envoyer 5€ @bob@piaille.fr"


def test_the_text_parses_to_the_remote_payee_not_a_local_namesake() -> None:
    result = parse(
        status_text(REAL, MENTIONS),
        author="alice@mastodon.social",
        bot="envoi@mastodon.social",
        ceiling=Money(100_000_00, "EUR"),
        grammar=MASTODON,
        mentioned=list(MENTIONS.values()),
    )
    assert result.kind == "send"
    assert result.payee == "bob@piaille.fr"
    assert result.amount == Money(5_00, "EUR")


def test_paragraphs_breaks_entities_and_hidden_parts_of_links() -> None:
    html = (
        "<p>Merci &amp; à bientôt&nbsp;!<br />ligne 2</p><p>"
        '<a href="https://example.org/a/very/long/path/indeed" target="_blank" rel="nofollow '
        'noopener" translate="no"><span class="invisible">https://</span><span class="ellipsis">'
        'example.org/a/very/long/pa</span><span class="invisible">th/indeed</span></a></p>'
    )
    assert status_text(html, {}) == (
        "Merci & à bientôt\u00a0!\nligne 2\n\nhttps://example.org/a/very/long/path/indeed"
    )


def test_a_mention_link_the_server_did_not_resolve_keeps_its_text_never_its_target() -> None:
    html = (
        '<p><a href="https://evil.example/@mallory" class="u-url mention">@<span>bob</span></a></p>'
    )
    assert status_text(html, {}) == "@bob"


def test_a_remote_authors_bare_name_is_theirs() -> None:
    assert status_text("<p>#envoyer 5€ @bob</p>", {}, author_domain="piaille.fr") == (
        "#envoyer 5€ @bob@piaille.fr"
    )
    assert status_text("<p>écrire à bob@piaille.fr</p>", {}, author_domain="piaille.fr") == (
        "écrire à bob@piaille.fr"
    )
