"""A transaction the database gave up (deadlock, serialization failure) is run again,
a bounded number of times; then the client is told to retry (503), never a 500."""

from __future__ import annotations

import warnings

import pytest
from fastapi import FastAPI

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services import unit_of_work
from envoi.services.unit_of_work import (
    RETRIES,
    RETRY_ATTEMPTS,
    RETRY_MAX_SLEEP_S,
    TransientConflict,
    retry_conflicts,
)
from envoi.web import errors

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the httpx it finds works the same.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(unit_of_work.time, "sleep", slept.append)
    return slept


class Flaky:
    """Fails with a conflict ``failures`` times, then answers."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.calls = 0
        self.error = error

    @retry_conflicts
    def run(self, value: int) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error or TransientConflict("deadlock_detected")
        return value * 2


def test_a_conflict_is_retried_until_the_transaction_goes_through(sleeps: list[float]) -> None:
    before = RETRIES["Flaky.run"]
    flaky = Flaky(failures=3)
    assert flaky.run(21) == 42
    assert flaky.calls == 4
    assert RETRIES["Flaky.run"] - before == 3  # one count (and one log line) per retry
    assert len(sleeps) == 3
    assert all(0 <= s <= RETRY_MAX_SLEEP_S for s in sleeps)


def test_attempts_are_bounded_and_end_in_busy_not_a_crash(sleeps: list[float]) -> None:
    flaky = Flaky(failures=RETRY_ATTEMPTS)
    with pytest.raises(EnvoiError) as raised:
        flaky.run(1)
    assert raised.value.code is ErrorCode.BUSY
    assert isinstance(raised.value.__cause__, TransientConflict)
    assert flaky.calls == RETRY_ATTEMPTS
    assert len(sleeps) == RETRY_ATTEMPTS - 1  # no pointless sleep after the last attempt


def test_other_errors_are_not_retried(sleeps: list[float]) -> None:
    flaky = Flaky(failures=1, error=EnvoiError(ErrorCode.INTENT_NOT_PENDING))
    with pytest.raises(EnvoiError) as raised:
        flaky.run(1)
    assert raised.value.code is ErrorCode.INTENT_NOT_PENDING
    assert flaky.calls == 1
    assert sleeps == []


def test_busy_and_an_unretried_conflict_answer_503_with_retry_after() -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/busy")
    def busy() -> None:
        raise EnvoiError(ErrorCode.BUSY)

    @app.get("/conflict")
    def conflict() -> None:
        raise TransientConflict("serialization_failure")

    client = TestClient(app, raise_server_exceptions=False)
    for path in ("/busy", "/conflict"):
        response = client.get(path, headers={"accept-language": "fr"})
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "1"
        body = response.json()["error"]
        assert body["code"] == "BUSY"
        assert "rien n’a été fait" in body["message"]
