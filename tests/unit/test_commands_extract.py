"""Mentions and hashtags as X finds them (twitter-text conformance cases), plus envoi's
stricter handle length."""

from __future__ import annotations

import pytest

from envoi.commands import extract_hashtags, extract_mentions
from envoi.commands.extract import quote_spans, scan_at_tokens, url_spans

MENTIONS = [
    # twitter-text conformance: extract.yml, "mentions"
    ("@username reply", ["username"]),
    ("mention @username", ["username"]),
    ("mention @username in the middle", ["username"]),
    ("mention @user_name", ["user_name"]),
    ("mention @12345", ["12345"]),
    ("mention @username1 @username2", ["username1", "username2"]),
    ("の@usernameに到着を待っている", ["username"]),
    ("Current Status: @_@ (cc: @username)", ["username"]),
    ("@aliceìnheiro something something", []),
    ("@username email me @test@example.com", ["username"]),
    ("@http://twitter.com", []),
    ("@username\n@mention", ["username", "mention"]),
    ("RT@username RT:@mention RT @test", ["username", "mention", "test"]),
    ("rt@username rt:@mention rt @test", ["username", "mention", "test"]),
    ("Rt@username Rt:@mention Rt @test", ["username", "mention", "test"]),
    ("rT@username rT:@mention rT @test", ["username", "mention", "test"]),
    ("f!@kn", []),
    ("f@@kn", []),
    ("f#@kn", []),
    ("f$@kn", []),
    ("f%@kn", []),
    ("f&@kn", []),
    ("f*@kn", []),
    ("username @username", ["username"]),
    ("@username yo!", ["username"]),
    # lists are not mentions; a slug must start with a letter
    ("@username/list-name is a great list!", []),
    ("@username/7list-name is a great list!", ["username"]),
    # e-mail addresses and URLs hold no mention
    ("write to bob@example.com", []),
    ("bob.smith@example.com and @alice", ["alice"]),
    ("see https://mastodon.social/@bob now", []),
    ("see mastodon.social/@bob now", []),
    ("https://x.com/search?q=@bob", []),
    # glued to a word or to !#$%&*: not a mention; other punctuation is fine
    ("abc@bob", []),
    ("5@bob", []),
    ("_@bob", []),
    (".@bob", ["bob"]),
    ("-@bob", ["bob"]),
    ("(@bob)", ["bob"]),
    ("@bob, @carol.", ["bob", "carol"]),
    ("é@bob", ["bob"]),
    # handle length: 1-15; a longer run is no mention at all
    ("@a", ["a"]),
    ("@abcdefghijklmno", ["abcdefghijklmno"]),
    ("@abcdefghijklmnop", []),
    ("@abcdefghijklmnopqrstuvwxyz", []),
    ("@", []),
    ("@ bob", []),
    # fullwidth at sign counts for twitter-text (the parser refuses it for payments)
    ("＠username", ["username"]),
]


@pytest.mark.parametrize(("text", "expected"), MENTIONS)
def test_extract_mentions(text: str, expected: list[str]) -> None:
    assert extract_mentions(text) == expected


HASHTAGS = [
    # twitter-text conformance: extract.yml, "hashtags"
    ("a #hashtag here", ["hashtag"]),
    ("this is #hashtag1", ["hashtag1"]),
    ("#1hashtag is this", ["1hashtag"]),
    ("On the #16 bus", []),
    ("#0", []),
    (
        "(#hashtag1 )#hashtag2 [#hashtag3 ]#hashtag4 ’#hashtag5’#hashtag6",
        ["hashtag1", "hashtag2", "hashtag3", "hashtag4", "hashtag5", "hashtag6"],
    ),
    ("I'll write more tests #mañana", ["mañana"]),
    ("Working remotely #café", ["café"]),
    ("Getting my Oktoberfest on #münchen", ["münchen"]),
    ("this is not valid: # 会議中 ハッシュ", []),
    ("What is #트위터 anyway?", ["트위터"]),
    ("What is #ашок anyway?", ["ашок"]),
    ("#カタカナ is a hashtag", ["カタカナ"]),
    ("日本語ハッシュテスト。#日本語ハッシュタグ", ["日本語ハッシュタグ"]),
    ("#日本語ハッシュタグ。", ["日本語ハッシュタグ"]),
    ("全角英数字ハッシュタグ ＃ｈａｓｈｔａｇ１２３", ["ｈａｓｈｔａｇ１２３"]),
    ("日本語ハッシュタグ#日本語ハッシュタグ", []),
    ("#hashtag: #hashtag; #hashtag, #hashtag. #hashtag! #hashtag?", ["hashtag"] * 6),
    (":#hashtag ;#hashtag ,#hashtag .#hashtag !#hashtag ?#hashtag", ["hashtag"] * 6),
    ("#hashtag\ntest\n#hashtag2\ntest\n#hashtag3\n", ["hashtag", "hashtag2", "hashtag3"]),
    ("#http://twitter.com #https://twitter.com", []),
    ("http://twitter.com/#hashtag twitter.com/#hashtag", []),
    ("#Azərbaycanca #mûǁae #Čeština", ["Azərbaycanca", "mûǁae", "Čeština"]),
    ("#महात्मा #महात्मा_१२३४ #१२३४ गांधी", ["महात्मा", "महात्मा_१२३४"]),
    # envoi's spec examples
    ("#envoyerais", ["envoyerais"]),
    ("abc#def", []),
    ("#envoyer#don", []),
    ("#Envoyer!", ["Envoyer"]),
    ("&#39;quote", []),
    ("#AnnivJulie", ["AnnivJulie"]),
    ("#_", []),
    ("#a_1", ["a_1"]),
]


@pytest.mark.parametrize(("text", "expected"), HASHTAGS)
def test_extract_hashtags(text: str, expected: list[str]) -> None:
    assert extract_hashtags(text) == expected


def test_near_miss_mentions_are_reported_for_the_parser() -> None:
    tokens = {t.run: t for t in scan_at_tokens("@bob ＠eve @bоb @ｍａｌ @bobに @aaaaaaaaaaaaaaaaa")}
    assert tokens["bob"].proper
    assert not tokens["eve"].proper
    assert tokens["eve"].lookalike
    assert tokens["bоb"].lookalike
    assert tokens["bоb"].mention == "b"  # what X would link: never pay that
    assert tokens["ｍａｌ"].lookalike
    assert tokens["ｍａｌ"].mention is None
    assert tokens["bobに"].lookalike
    assert tokens["bobに"].mention == "bob"
    long = tokens["aaaaaaaaaaaaaaaaa"]
    assert not long.proper
    assert not long.lookalike
    assert long.mention is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('say "hi" now', [(4, 8)]),
        ("« bonjour » et “hello”", [(0, 11), (15, 22)]),
        ('open "never closed', [(5, 18)]),
        ("„Hallo“ ok", [(0, 7)]),
        ("no quotes, l'apostrophe", []),
    ],
)
def test_quote_spans(text: str, expected: list[tuple[int, int]]) -> None:
    assert quote_spans(text) == expected


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("go https://example.com/a?b=c#d now", "https://example.com/a?b=c#d"),
        ("go www.example.com now", "www.example.com"),
        ("go example.com/@bob now", "example.com/@bob"),
        ("go http://x.co", "http://x.co"),
    ],
)
def test_url_spans(text: str, found: str) -> None:
    assert [text[a:b] for a, b in url_spans(text)] == [found]
