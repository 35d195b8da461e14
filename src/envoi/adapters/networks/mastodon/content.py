"""A status's HTML, as Mastodon renders it, turned into the text envoi parses.

Mastodon writes a mention as an h-card showing only the username, whatever the instance::

    <span class="h-card" translate="no"><a href="https://b.example/@bob"
      class="u-url mention">@<span>bob</span></a></span>

so the display text alone cannot say which ``bob`` is meant. Each mention link is written
back as the full ``@user@instance`` of the account the server resolved for it (the
status's ``mentions[]``, matched by its URL): the parser then reads the same handle the
payee is keyed by, and the intake finds it among the post's mentions with its immutable
id. A plain ``@name`` the server did not turn into a link names nobody known: written by
an author of another instance it means that instance's account, and is qualified so.
Paragraphs and line breaks become line breaks; links keep their full address (Mastodon
hides part of it in ``invisible`` spans, which are text all the same).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.parser import HTMLParser

# A bare "@name" in running text (not an e-mail, not already "@name@domain").
_BARE = re.compile(r"(?<![\w@.])@([A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?)(?![\w@.\-])")


class _Text(HTMLParser):
    def __init__(self, mentions: Mapping[str, str], author_domain: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.mentions = mentions
        self.author_domain = author_domain
        self.parts: list[str] = []
        self._in_mention = False
        self._anchor_text: list[str] = []
        self._anchor_acct: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            attributes = dict(attrs)
            classes = (attributes.get("class") or "").split()
            if "mention" in classes and "hashtag" not in classes:
                self._in_mention = True
                self._anchor_text = []
                self._anchor_acct = self.mentions.get(attributes.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._in_mention:
            self._in_mention = False
            shown = "".join(self._anchor_text)
            if self._anchor_acct is not None:
                self.parts.append(f"@{self._anchor_acct}")
            else:  # a link the server did not resolve: only its text, never its target
                self.parts.append(self._qualify(shown))

    def handle_data(self, data: str) -> None:
        if self._in_mention:
            self._anchor_text.append(data)
        else:
            self.parts.append(self._qualify(data))

    def _qualify(self, text: str) -> str:
        if self.author_domain is None:
            return text
        return _BARE.sub(lambda m: f"@{m.group(1)}@{self.author_domain}", text)


def status_text(
    content: str, mentions: Mapping[str, str], *, author_domain: str | None = None
) -> str:
    """The text of ``content`` (a status's HTML). ``mentions`` maps each mentioned
    account's URL to its full ``user@instance``; ``author_domain`` is the author's
    instance when it is not the bot's (their bare ``@name`` is theirs)."""
    parser = _Text(mentions, author_domain)
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()
