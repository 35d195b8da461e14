"""Bluesky mention facets: UTF-8 byte offsets in, byte offsets out."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from envoi.adapters.networks.bluesky.gateway import record_key
from envoi.adapters.networks.bluesky.richtext import MENTION, mention_facets, mentions_in

BOB = "did:plc:bob"


def facet(start: int, end: int, did: str = BOB, kind: str = MENTION) -> dict[str, Any]:
    return {
        "index": {"byteStart": start, "byteEnd": end},
        "features": [{"$type": kind, "did": did}],
    }


def span_of(text: str, part: str) -> tuple[int, int]:
    start = text.encode().index(part.encode())
    return start, start + len(part.encode())


def test_offsets_are_bytes_so_the_euro_sign_shifts_the_mention_by_two() -> None:
    text = "@smoney.test #envoyer 5€ @bob.test"
    start, end = span_of(text, "@bob.test")
    assert start == text.index("@bob.test") + 2  # "€" is 3 bytes, 1 character
    [mention] = mentions_in(text, [facet(start, end)])
    assert (mention.did, mention.handle, mention.start) == (BOB, "bob.test", text.index("@bob"))


def test_character_offsets_miss_the_mention_after_a_euro_sign() -> None:
    text = "5€ @bob.test"
    wrong = facet(text.index("@"), text.index("@") + len("@bob.test"))  # characters, not bytes
    assert mentions_in(text, [wrong]) == []


def test_broken_or_foreign_facets_are_ignored() -> None:
    text = "€ @bob.test"
    start, end = span_of(text, "@bob.test")
    assert mentions_in(text, [facet(1, end)]) == []  # starts inside the "€"
    assert mentions_in(text, [facet(start, end + 40)]) == []  # beyond the text
    assert mentions_in(text, [facet(end, start)]) == []  # backwards
    assert mentions_in(text, [facet(start + 1, end)]) == []  # not on the "@"
    assert mentions_in(text, [facet(start, end, did="bob")]) == []  # not a DID
    link = "app.bsky.richtext.facet#link"
    assert mentions_in(text, [facet(start, end, kind=link)]) == []
    assert mentions_in(text, None) == []


def test_mentions_come_in_text_order_with_the_handle_as_written() -> None:
    text = "@Smoney.test #pay 3 EUR @Bob.Test"
    late, early = span_of(text, "@Bob.Test"), span_of(text, "@Smoney.test")
    found = mentions_in(text, [facet(*late), facet(*early, did="did:plc:bot")])
    assert [(m.did, m.handle) for m in found] == [("did:plc:bot", "smoney.test"), (BOB, "bob.test")]


def test_sdk_models_are_read_as_well_as_json() -> None:
    from atproto_client import models

    text = "5€ @bob.test"
    start, end = span_of(text, "@bob.test")
    model = models.AppBskyRichtextFacet.Main(
        features=[models.AppBskyRichtextFacet.Mention(did=BOB)],
        index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
    )
    assert [m.did for m in mentions_in(text, [model])] == [BOB]


def test_reply_facets_cover_each_known_handle_in_bytes() -> None:
    text = "@alice.test 5,00 € envoyés à @bob.test ✓ (@nobody.test)"
    dids = {"alice.test": "did:plc:alice", "bob.test": BOB}
    facets = mention_facets(text, dids.get)
    data = text.encode()
    covered = {
        data[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(): f["features"][0]["did"]
        for f in facets
    }
    assert covered == {"@alice.test": "did:plc:alice", "@bob.test": BOB}
    assert mentions_in(text, facets)[1].handle == "bob.test"


@given(st.text(alphabet="€éaZ 1#\u00a0🙂", max_size=12), st.text(alphabet="€🙂 x", max_size=6))
def test_what_reply_facets_write_the_reader_reads_back(before: str, after: str) -> None:
    text = f"{before} @bob.test{after and ' ' + after}"
    facets = mention_facets(text, {"bob.test": BOB}.get)
    assert [(m.did, m.handle) for m in mentions_in(text, facets)] == [(BOB, "bob.test")]


@given(st.text(max_size=40))
def test_a_reply_s_record_key_is_a_valid_tid_fixed_by_its_idempotency_key(key: str) -> None:
    from atproto_client.models.string_formats import TID_RE

    rkey = record_key(key)
    assert TID_RE.match(rkey)
    assert record_key(key) == rkey
    assert record_key(key + "x") != rkey
