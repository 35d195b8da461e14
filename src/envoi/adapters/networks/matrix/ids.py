"""envoi's post ids for Matrix events: the room travels with the event.

Answering an event takes its room, and room ids are opaque (room version 12 has no
``:server`` part), so nothing is parsed out of them: the pair is kept as written.
Neither room ids nor event ids contain ``|``.
"""

from __future__ import annotations


def post_id(room_id: str, event_id: str) -> str:
    return f"{room_id}|{event_id}"


def split_post_id(value: str) -> tuple[str, str]:
    """(room id, event id); ValueError for anything else."""
    room_id, sep, event_id = value.partition("|")
    if not sep or not room_id.startswith("!") or not event_id.startswith("$") or "|" in event_id:
        raise ValueError(f"not a Matrix post id: {value!r}")
    return room_id, event_id
