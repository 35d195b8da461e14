"""envoi acting on Matrix as its bot: replies, DMs, look-ups, OpenID proof of ownership.

Replies are notices (bots speak in ``m.notice``) that point at what they answer
(``m.in_reply_to``) and mention people properly: an HTML pill for each user id in the
text, and the ids in ``m.mentions`` so their clients notify them. Sends carry envoi's
idempotency key as the transaction id: a retried send is the same event, not a second.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from nio import (
    AsyncClient,
    DirectRoomsResponse,
    ProfileGetError,
    ProfileGetResponse,
    RoomCreateError,
    RoomPreset,
    RoomSendResponse,
)

from envoi.adapters.networks.matrix.connection import (
    NETWORK,
    MatrixConnection,
    MatrixUnavailableError,
    error_text,
)
from envoi.adapters.networks.matrix.ids import post_id, split_post_id
from envoi.commands.handles import MATRIX
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.ports import NetworkUser

log = structlog.get_logger(__name__)


def message_content(text: str, *, reply_to: str | None = None) -> dict[str, Any]:
    """A notice with a pill and an intentional mention for every user id written in it."""
    parts: list[str] = []
    mentioned: list[str] = []
    position = 0
    for token in MATRIX.scan(text):
        if not token.proper:
            continue
        user_id = f"@{token.run}"
        parts.append(html.escape(text[position : token.start]))
        href = f"https://matrix.to/#/{quote(user_id, safe='@:')}"
        parts.append(f'<a href="{href}">{html.escape(user_id)}</a>')
        mentioned.append(user_id)
        position = token.end
    parts.append(html.escape(text[position:]))
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": "".join(parts).replace("\n", "<br>"),
        "m.mentions": {"user_ids": list(dict.fromkeys(mentioned))},
    }
    if reply_to is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


class MatrixGateway:
    """``NetworkGateway`` for Matrix."""

    name = NETWORK
    grammar = "matrix"

    def __init__(self, connection: MatrixConnection) -> None:
        self.connection = connection
        self.bot_handle = connection.user_id.removeprefix("@")
        self._dm_rooms: dict[str, str] = {}

    # --- NetworkGateway -------------------------------------------------------------

    def reply(self, in_reply_to_post_id: str, text: str, *, idempotency_key: str) -> str:
        """Answer in the room of the message; in a DM room that stays private."""
        try:
            room_id, event_id = split_post_id(in_reply_to_post_id)
        except ValueError:
            raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=in_reply_to_post_id[:100]) from None
        content = message_content(text, reply_to=event_id)
        return self.connection.run(
            lambda client: self._send(client, room_id, content, idempotency_key)
        )

    def direct_message(self, to_user_id: str, text: str, *, idempotency_key: str) -> str:
        content = message_content(text)

        async def send(client: AsyncClient) -> str:
            room_id = await self._dm_room(client, to_user_id)
            return await self._send(client, room_id, content, idempotency_key)

        return self.connection.run(send)

    def lookup_user(self, handle: str) -> NetworkUser | None:
        """The account with this user id, if the homeserver knows it (ids never change)."""
        handle = handle.strip().removeprefix("@")
        if not MATRIX.is_handle(handle):
            return None
        user_id = f"@{handle}"

        async def profile(client: AsyncClient) -> NetworkUser | None:
            found = await client.get_profile(user_id)
            if isinstance(found, ProfileGetResponse):
                return NetworkUser(NETWORK, user_id, handle, (found.displayname or handle)[:100])
            if isinstance(found, ProfileGetError) and found.status_code in (
                "M_NOT_FOUND",
                "M_FORBIDDEN",
            ):
                return None
            raise MatrixUnavailableError(f"profile: {error_text(found)}")

        return self.connection.run(profile)

    def verify_link(self, token: str) -> NetworkUser:
        """Matrix's own proof of ownership: an OpenID token the member's client got from
        their homeserver (``/openid/request_token``), checked with that homeserver.

        Only tokens of the bot's own homeserver are accepted: checking another server
        would take server discovery, and a forged server name must not be trusted.
        """
        try:
            claim = json.loads(token)
            access_token = str(claim["access_token"])
            server_name = str(claim["matrix_server_name"])
        except (ValueError, KeyError, TypeError):
            raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK) from None
        if server_name != self.connection.user_id.split(":", 1)[1]:
            raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK)
        url = f"{self.connection.homeserver_url}/_matrix/federation/v1/openid/userinfo"
        try:
            answer = httpx.get(url, params={"access_token": access_token}, timeout=10)
        except httpx.TransportError as exc:
            raise MatrixUnavailableError(str(exc)) from exc
        if answer.status_code != 200:
            raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK)
        user_id = str(answer.json().get("sub", ""))
        if not user_id.endswith(f":{server_name}") or not MATRIX.is_handle(user_id):
            raise EnvoiError(ErrorCode.INVALID_NETWORK_TOKEN, network=NETWORK)
        found = self.lookup_user(user_id)
        return found or NetworkUser(NETWORK, user_id, user_id[1:], user_id[1:])

    # --- steps ----------------------------------------------------------------------

    async def _send(
        self, client: AsyncClient, room_id: str, content: dict[str, Any], key: str
    ) -> str:
        if client.olm is not None and room_id not in client.rooms:
            # Encryption needs the room's members: learn them first.
            await client.sync(timeout=0, full_state=True)
            await self.connection.maintain_keys(client)
        response = await client.room_send(
            room_id,
            "m.room.message",
            content,
            # The same key, the same transaction: the homeserver answers a retry with
            # the first event instead of posting twice.
            tx_id=key,
            ignore_unverified_devices=True,
        )
        if not isinstance(response, RoomSendResponse):
            raise MatrixUnavailableError(f"send to {room_id}: {error_text(response)}")
        return post_id(room_id, response.event_id)

    async def _dm_room(self, client: AsyncClient, user_id: str) -> str:
        """The room where the bot and ``user_id`` talk alone, created if there is none."""
        known = self._dm_rooms.get(user_id)
        if known is not None:
            return known
        for room in client.rooms.values():
            if set(room.users) | set(room.invited_users) == {client.user_id, user_id}:
                found = str(room.room_id)
                self._dm_rooms[user_id] = found
                return found
        listed = await client.list_direct_rooms()
        if isinstance(listed, DirectRoomsResponse) and listed.rooms.get(user_id):
            room_id = str(listed.rooms[user_id][-1])
            self._dm_rooms[user_id] = room_id
            return room_id
        initial_state = (
            [{"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
            if self.connection.encrypted
            else []
        )
        created = await client.room_create(
            is_direct=True,
            invite=[user_id],
            preset=RoomPreset.trusted_private_chat,
            initial_state=initial_state,
        )
        if isinstance(created, RoomCreateError):
            raise MatrixUnavailableError(f"create DM with {user_id}: {error_text(created)}")
        room_id = str(created.room_id)
        await self._mark_direct(client, user_id, room_id)
        self._dm_rooms[user_id] = room_id
        log.info("matrix.dm_room", user_id=user_id, room_id=room_id)
        return room_id

    async def _mark_direct(self, client: AsyncClient, user_id: str, room_id: str) -> None:
        """Record the room in the bot's ``m.direct``, so a restart finds it again."""
        listed = await client.list_direct_rooms()
        rooms = dict(listed.rooms) if isinstance(listed, DirectRoomsResponse) else {}
        rooms[user_id] = [*rooms.get(user_id, []), room_id]
        path = f"/_matrix/client/v3/user/{quote(client.user_id)}/account_data/m.direct"
        response = await client.send(
            "PUT",
            path,
            json.dumps(rooms),
            headers={"Authorization": f"Bearer {client.access_token}"},
        )
        if response.status != 200:
            log.warning("matrix.m_direct_not_saved", status=response.status, room_id=room_id)
