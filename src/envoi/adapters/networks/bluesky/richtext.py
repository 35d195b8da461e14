"""Bluesky rich text: mention facets in and out.

A Bluesky mention is not text: it is a facet ``app.bsky.richtext.facet#mention`` carrying
the mentioned account's DID (its permanent id) over a byte range of the post's UTF-8 text.
Offsets are bytes, not characters: ``€`` is three bytes, so a post like ``5€ @bob.test``
puts the mention three bytes further than its character index. A facet whose range falls
outside the text, inside a multi-byte character, or not on an ``@handle`` is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atproto_client.utils.facet_detection import detect_mentions

MENTION = "app.bsky.richtext.facet#mention"


@dataclass(frozen=True, slots=True)
class FacetMention:
    did: str
    handle: str  # as written in the text, without "@", lowercased
    start: int  # character index of the "@" in the text


def _get(obj: Any, *names: str) -> Any:
    """A field of an SDK model or of the raw JSON dict (camelCase or snake_case)."""
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return None


def mentions_in(text: str, facets: Sequence[Any] | None) -> list[FacetMention]:
    """The mention facets of a post, in text order, each with the handle its range covers."""
    data = text.encode("utf-8")
    found: list[FacetMention] = []
    for facet in facets or ():
        index = _get(facet, "index")
        start = _get(index, "byteStart", "byte_start")
        end = _get(index, "byteEnd", "byte_end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data)):
            continue
        try:
            span = data[start:end].decode("utf-8")
            before = data[:start].decode("utf-8")
        except UnicodeDecodeError:  # a range cutting a character in two
            continue
        if not span.startswith("@") or len(span) < 2:
            continue
        for feature in _get(facet, "features") or ():
            kind = _get(feature, "$type", "py_type")
            did = _get(feature, "did")
            if kind == MENTION and isinstance(did, str) and did.startswith("did:"):
                found.append(FacetMention(did, span[1:].lower(), len(before)))
    found.sort(key=lambda m: m.start)
    return found


def mention_facets(text: str, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Mention facets for the ``@handle``s written in ``text`` (the bot's own replies), found
    the way Bluesky's own clients find them; ``resolve`` maps a handle to its DID, and a
    handle it does not know stays plain text."""
    facets: list[dict[str, Any]] = []
    for match in detect_mentions(text):
        did = resolve(match.handle)
        if did is None:
            continue
        facets.append(
            {
                "$type": "app.bsky.richtext.facet",
                "index": {"byteStart": match.byte_start, "byteEnd": match.byte_end},
                "features": [{"$type": MENTION, "did": did}],
            }
        )
    return facets
