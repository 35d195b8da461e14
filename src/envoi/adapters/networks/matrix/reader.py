"""Matrix ingest: ``/sync`` as the bot, from envoi's stored sync token.

What counts: text messages in rooms the bot is in (a room of two is a direct
message), with the people the event itself marks as mentioned (``m.mentions``, else
the HTML pills); redactions (a deleted command cancels). What never counts: the bot's
own events, notices (bots talk in notices), edits (``m.replace``: an edit must never
re-trigger or change a payment). Invites are accepted as they come.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import structlog
from nio import (
    AsyncClient,
    Event,
    InviteMemberEvent,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    RedactionEvent,
    RoomGetEventResponse,
    RoomMessagesError,
    RoomMessageText,
    SyncError,
    SyncResponse,
)

from envoi.adapters.networks.matrix.connection import (
    NETWORK,
    MatrixConnection,
    MatrixUnavailableError,
    error_text,
)
from envoi.adapters.networks.matrix.ids import post_id
from envoi.services.ports import InboundPost, NetworkEvent, NetworkUser, ReadBatch

log = structlog.get_logger(__name__)

# A room with more new events than this in one sync comes back ``limited``: the rest is
# read page by page with /messages, down to the cursor (``_backfill``).
TIMELINE_LIMIT = 100
_FILTER = {"room": {"timeline": {"limit": TIMELINE_LIMIT}}}
_PILL = re.compile(r"""href=["']https://matrix\.to/#/(@[^"'?/]+)""")
# The quoted message of a rich reply (deprecated, still sent by older clients).
_REPLY_FALLBACK = re.compile(r"<mx-reply>.*?</mx-reply>", re.DOTALL)


def network_user(room: MatrixRoom | None, user_id: str) -> NetworkUser:
    name = room.user_name(user_id) if room is not None else None
    # Display names are free text of any length; envoi shows (and keeps) 100 characters.
    return NetworkUser(NETWORK, user_id, user_id.removeprefix("@"), (name or user_id)[:100])


def _strip_reply_fallback(body: str) -> str:
    """Older clients quote the message they answer ("> <@bob:x> …"): not the command."""
    lines = body.split("\n")
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).lstrip("\n")


def _pills(content: dict[str, Any]) -> list[str]:
    """The user ids the message's HTML links to, outside any quoted reply."""
    html = content.get("formatted_body")
    if content.get("format") == "org.matrix.custom.html" and isinstance(html, str):
        return [unquote(found) for found in _PILL.findall(_REPLY_FALLBACK.sub("", html))]
    return []


def _mentioned(content: dict[str, Any], *, replied_to: str | None = None) -> list[str]:
    """The ids the sender's client marked as mentions; [] when it marked none.

    A reply's client adds the author of the message it answers to ``m.mentions`` (the
    spec asks it to, so they are notified): that person is not named by the command,
    and counts only if the message itself shows them as a pill."""
    mentions = content.get("m.mentions")
    if isinstance(mentions, dict):
        ids = mentions.get("user_ids")
        found = [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
    else:
        found = _pills(content)  # no intentional mentions (an older client): its pills
    if replied_to is not None and replied_to not in _pills(content):
        found = [user_id for user_id in found if user_id != replied_to]
    return found


class MatrixReader:
    """``NetworkReader`` for Matrix; the cursor is the sync token (``next_batch``)."""

    name = NETWORK

    def __init__(self, connection: MatrixConnection) -> None:
        self.connection = connection
        self._primed = False

    def read(self, cursor: str | None, wait_s: float) -> ReadBatch:
        return self.connection.run(
            lambda client: self._read(client, cursor, wait_s), timeout_s=wait_s + 60
        )

    async def _read(self, client: AsyncClient, cursor: str | None, wait_s: float) -> ReadBatch:
        # A new process knows no room yet: its first sync asks for the full state (who
        # is in each room) along with what happened since the cursor.
        first = not self._primed
        response = await client.sync(
            timeout=0 if cursor is None else int(wait_s * 1000),
            sync_filter=_FILTER,
            since=cursor,
            full_state=first and cursor is not None,
        )
        if isinstance(response, SyncError):
            raise MatrixUnavailableError(f"sync: {error_text(response)}")
        self._primed = True
        await self.connection.maintain_keys(client)
        await self._accept_invites(client, response)
        if cursor is None:
            # Never run before: start from now. Commands written before the bot existed
            # are not answered weeks later.
            return ReadBatch((), response.next_batch)
        return ReadBatch(tuple(await self._events(client, response, cursor)), response.next_batch)

    async def _timeline(
        self, client: AsyncClient, room_id: str, info: Any, cursor: str
    ) -> list[Event]:
        """The room's events since ``cursor``, all of them: a ``limited`` timeline (more
        happened than one sync holds) is completed backwards with /messages from its
        ``prev_batch`` down to the cursor."""
        events: list[Event] = list(info.timeline.events)
        if not info.timeline.limited:
            return events
        missing: list[Event] = []
        token = info.timeline.prev_batch
        while token:
            page = await client.room_messages(
                room_id,
                start=token,
                end=cursor,
                direction=MessageDirection.back,
                limit=TIMELINE_LIMIT,
            )
            if isinstance(page, RoomMessagesError):
                raise MatrixUnavailableError(f"messages of {room_id}: {error_text(page)}")
            missing.extend(page.chunk)
            if not page.chunk or not page.end or page.end == token:
                break
            token = page.end
        seen = {getattr(e, "event_id", None) for e in events}
        older = [e for e in reversed(missing) if getattr(e, "event_id", None) not in seen]
        log.info("matrix.timeline_backfill", room_id=room_id, events=len(older))
        return older + events

    async def _accept_invites(self, client: AsyncClient, response: SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            inviter = next(
                (
                    e.sender
                    for e in info.invite_state
                    if isinstance(e, InviteMemberEvent) and e.state_key == client.user_id
                ),
                None,
            )
            joined = await client.join(room_id)
            log.info(
                "matrix.invite", room_id=room_id, inviter=inviter, joined=type(joined).__name__
            )

    async def _events(
        self, client: AsyncClient, response: SyncResponse, cursor: str
    ) -> list[NetworkEvent]:
        events: list[NetworkEvent] = []
        for room_id, info in response.rooms.join.items():
            room = client.rooms.get(room_id)
            timeline = await self._timeline(client, room_id, info, cursor)
            senders = {e.event_id: e.sender for e in timeline if hasattr(e, "sender")}
            for event in timeline:
                if getattr(event, "sender", None) == client.user_id:
                    continue  # the bot's own words, whatever they quote
                if isinstance(event, RedactionEvent):
                    events.append(NetworkEvent(deleted_post_id=post_id(room_id, event.redacts)))
                elif isinstance(event, RoomMessageText):
                    replied_to = await self._replied_to(client, room_id, event, senders)
                    post = self._post(room_id, room, event, replied_to)
                    if post is not None:
                        events.append(NetworkEvent(post=post))
                elif isinstance(event, MegolmEvent):
                    log.warning(
                        "matrix.undecryptable",
                        room_id=room_id,
                        event_id=event.event_id,
                        session_id=event.session_id,
                    )
        return events

    async def _replied_to(
        self,
        client: AsyncClient,
        room_id: str,
        event: RoomMessageText,
        senders: dict[str, str],
    ) -> str | None:
        """Who wrote the message ``event`` answers (None when it answers nothing)."""
        relation = event.source.get("content", {}).get("m.relates_to") or {}
        target = (relation.get("m.in_reply_to") or {}).get("event_id")
        if not isinstance(target, str):
            return None
        if target not in senders:
            found = await client.room_get_event(room_id, target)
            # An event we may not see (redacted, before we joined): nobody to set aside.
            senders[target] = found.event.sender if isinstance(found, RoomGetEventResponse) else ""
        return senders[target] or None

    def _post(
        self,
        room_id: str,
        room: MatrixRoom | None,
        event: RoomMessageText,
        replied_to: str | None = None,
    ) -> InboundPost | None:
        content: dict[str, Any] = event.source.get("content", {})
        relation = content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace" or "m.new_content" in content:
            return None  # an edit: the original was read; its new text moves nothing
        in_reply_to = (relation.get("m.in_reply_to") or {}).get("event_id")
        body = _strip_reply_fallback(event.body) if in_reply_to else event.body
        # Two people in the room: the bot and its author. Bigger rooms are public.
        direct = room is not None and room.member_count <= 2
        return InboundPost(
            network=NETWORK,
            post_id=post_id(room_id, event.event_id),
            author=network_user(room, event.sender),
            text=body,
            direct=direct,
            created_at=datetime.fromtimestamp(event.server_timestamp / 1000, UTC),
            in_reply_to=post_id(room_id, in_reply_to) if in_reply_to else None,
            mentions=tuple(
                network_user(room, user_id)
                for user_id in _mentioned(content, replied_to=replied_to)
            ),
        )
