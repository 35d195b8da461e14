"""The ingest loop: cursor moved only after storing, outages retried with backoff."""

from __future__ import annotations

import threading

import pytest

from envoi.services.ingest import Ingest
from envoi.services.ports import InboundPost, NetworkEvent, NetworkUser, ReadBatch
from envoi.workers.ingest import backoff_s, run_ingest

ALICE = NetworkUser("fake", "u1", "alice", "Alice")


def _post(n: int) -> InboundPost:
    return InboundPost("fake", f"p{n}", ALICE, f"post {n}")


class FakeReader:
    """A network of numbered posts; the cursor is the number of posts already read."""

    name = "fake"

    def __init__(self) -> None:
        self.posts: list[InboundPost] = []
        self.down = 0  # how many reads fail from now on

    def read(self, cursor: str | None, wait_s: float) -> ReadBatch:
        if self.down:
            self.down -= 1
            raise ConnectionError("homeserver unreachable")
        start = int(cursor or 0)
        events = tuple(NetworkEvent(post=p) for p in self.posts[start : start + 2])
        return ReadBatch(events, str(start + len(events)))


class Cursors:
    def __init__(self) -> None:
        self.saved: dict[str, str] = {}

    def load(self, network: str) -> str | None:
        return self.saved.get(network)

    def save(self, network: str, cursor: str) -> None:
        self.saved[network] = cursor


class Inbound:
    def __init__(self, fail_on: str | None = None) -> None:
        self.stored: list[str] = []
        self.fail_on = fail_on

    def receive_post(self, post: InboundPost) -> None:
        if post.post_id == self.fail_on:
            self.fail_on = None
            raise RuntimeError("database restarting")
        if post.post_id not in self.stored:  # the intake is idempotent per post id
            self.stored.append(post.post_id)

    def receive_deletion(self, network: str, post_id: str) -> None:
        raise AssertionError("no deletions here")


def test_the_cursor_moves_only_once_the_batch_is_stored() -> None:
    reader, cursors, inbound = FakeReader(), Cursors(), Inbound(fail_on="p1")
    reader.posts = [_post(n) for n in range(3)]
    ingest = Ingest(reader, inbound, cursors)
    with pytest.raises(RuntimeError):
        ingest.step()
    assert cursors.saved == {}  # p0 stored, p1 failed: the batch is read again
    assert ingest.step() == 2
    assert ingest.step() == 1
    assert inbound.stored == ["p0", "p1", "p2"]
    assert cursors.saved == {"fake": "3"}


def test_an_outage_is_retried_with_growing_jittered_delays_and_nothing_is_lost() -> None:
    reader, cursors, inbound = FakeReader(), Cursors(), Inbound()
    reader.posts = [_post(n) for n in range(5)]
    reader.down = 3
    ingest = Ingest(reader, inbound, cursors)
    stop = threading.Event()
    waits: list[float] = []

    class Recording(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout or 0.0)
            if len(inbound.stored) == 5:
                stop.set()
            return stop.is_set()

        def is_set(self) -> bool:
            return stop.is_set()

    run_ingest("fake", ingest.step, Recording(), idle_s=0.5, base_s=1.0, cap_s=60.0)
    assert inbound.stored == [f"p{n}" for n in range(5)]
    # Three failures: 1, 2, 4 s ceilings, each between half and all of it.
    assert 0.5 <= waits[0] <= 1.0
    assert 1.0 <= waits[1] <= 2.0
    assert 2.0 <= waits[2] <= 4.0


def test_a_restart_catches_up_from_the_stored_cursor() -> None:
    reader, cursors, inbound = FakeReader(), Cursors(), Inbound()
    reader.posts = [_post(n) for n in range(2)]
    Ingest(reader, inbound, cursors).step()
    reader.posts += [_post(n) for n in range(2, 4)]
    fresh = Ingest(reader, Inbound(), cursors)  # a new process: nothing in memory
    fresh.step()
    assert fresh.inbound.stored == ["p2", "p3"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("failures", "low", "high"), [(1, 0.5, 1), (4, 4, 8), (20, 30, 60)])
def test_backoff_is_bounded(failures: int, low: float, high: float) -> None:
    assert backoff_s(failures, rand=lambda: 0.0) == low
    assert backoff_s(failures, rand=lambda: 1.0) == high
