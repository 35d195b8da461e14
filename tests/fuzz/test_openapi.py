"""Schemathesis over envoi's whole OpenAPI: no input may get a 5xx, and answers conform.

Every operation of ``/openapi.json`` (the API, the sandbox network, the sandbox card
processor) is called with generated valid and invalid data (schemathesis' positive and
negative modes), as a signed-in member (the API), as a sandbox account (the sandbox
network) or with whatever credentials schemathesis makes up. Schemathesis never puts a
lone surrogate (``"\\ud800"``) in a string, yet any JSON client can send one: every valid
JSON body it generates is sent again with a lone surrogate in each of its strings in
turn (values and keys), and every form with bytes that are not UTF-8 (``call`` below).

``make test`` runs ``ENVOI_FUZZ_EXAMPLES`` (default 4) examples per operation and mode,
derandomised; ``make chaos`` many more, random (``ENVOI_FUZZ_RANDOM=1``) and shrunk
(``ENVOI_FUZZ_SHRINK=1``). Checks: ``not_a_server_error`` (the point), and the
conformance checks that hold for an API that documents only its success answers: the
response's content type and, for documented statuses, its body schema.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from envoi.adapters.db import ledger_check
from envoi.bootstrap import Envoi, bootstrap, prepare
from envoi.config import Settings
from envoi.web.app import create_app
from tests.conftest import empty_all_tables

EXAMPLES = int(os.environ.get("ENVOI_FUZZ_EXAMPLES", "4"))
PHASES = (
    tuple(Phase) if os.environ.get("ENVOI_FUZZ_SHRINK") == "1" else (Phase.explicit, Phase.generate)
)
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
LONE_SURROGATES = ("\ud800", "\udfff", "\udc80", "\udbff")
SWEEP = 8  # at most this many strings of one body get a surrogate, one variant each


def _with_surrogate(text: str, surrogate: str, where: int) -> str:
    cut = where % (len(text) + 1)
    return text[:cut] + surrogate + text[cut:]


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where strings are in a JSON value: ``(…, key)`` for a value, ``(…, ("key", k))``
    for a key of an object."""
    if isinstance(value, str):
        yield at
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*at, ("key", key))
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*at, index))


def _replace(value: Any, path: tuple[Any, ...], surrogate: str, where: int) -> Any:
    if not path:
        return _with_surrogate(value, surrogate, where)
    step, rest = path[0], path[1:]
    if isinstance(step, tuple):  # a key of this object
        key = step[1]
        return {
            (_with_surrogate(k, surrogate, where) if k == key else k): v for k, v in value.items()
        }
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[step] = _replace(value[step], rest, surrogate, where)
    return copy


class Credentials:
    """A member and a sandbox account to sign in with; renewed when a case signs out."""

    def __init__(self, envoi: Envoi) -> None:
        self.envoi = envoi
        created = envoi.members.register(
            email="fuzz@example.org",
            password="fuzzing password",
            display_name="Fuzz",
            locale="en",
        )
        envoi.members.set_pin(created.id, "2580")
        self.sandbox = envoi.sandbox.create_account("fuzzer", "Fuzzer").token
        self.member = self._issue()

    def _issue(self) -> str:
        return self.envoi.members.issue_token("fuzz@example.org", "fuzzing password")

    def renew(self) -> None:
        self.member = self._issue()


@pytest.fixture
def envoi(database_url: str) -> Iterator[Envoi]:
    # The sandbox network and processor are what is fuzzed: on PostgreSQL too.
    built = bootstrap(Settings(database_url=database_url, worker_poll_s=3600, sandbox=True))
    prepare(built)
    yield built
    empty_all_tables(built.engine)
    built.engine.dispose()


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, bytes):
        return b"%ED%A0%80" in value or b"%FF" in value
    return any(0xD800 <= ord(ch) <= 0xDFFF for text in _strings(value) for ch in text)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_no_input_gets_a_server_error(envoi: Envoi) -> None:
    app: FastAPI = create_app(envoi, run_workers=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    credentials = Credentials(envoi)
    counts = {"cases": 0, "surrogates": 0, "operations": 0, "unsatisfiable": 0}
    failures: dict[str, str] = {}

    def send(case: Any) -> None:
        counts["cases"] += 1
        counts["surrogates"] += _has_surrogate(case.body)
        headers: dict[str, str] = {}
        # One case in four keeps whatever credentials schemathesis made up (or none).
        if counts["cases"] % 4:
            sandbox = case.path.startswith("/sandbox/")
            token = credentials.sandbox if sandbox else credentials.member
            headers["Authorization"] = f"Bearer {token}"
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        signed_out = case.path == "/api/v1/auth/token" and case.method.upper() == "DELETE"
        if signed_out and response.status_code == 204:
            credentials.renew()

    def call(case: Any, mode: GenerationMode) -> None:
        """The case, then (valid bodies) the same body with a lone surrogate in each of
        its strings in turn: schemathesis never generates one, any JSON client can."""
        body = case.body
        send(case)
        if mode is not GenerationMode.POSITIVE or not isinstance(body, dict | list):
            return
        if "json" in (case.media_type or ""):
            variants: list[Any] = [
                _replace(body, path, LONE_SURROGATES[n % len(LONE_SURROGATES)], n * 7)
                for n, path in enumerate(list(_paths(body))[:SWEEP])
            ]
        elif isinstance(body, dict):
            # A form cannot carry a surrogate (its text is UTF-8), but it can carry bytes
            # that are no UTF-8 at all, or a surrogate's UTF-8-like encoding.
            variants = [
                "&".join(
                    [urlencode({k: v for k, v in body.items() if k != key}), f"{key}={bad}"]
                ).encode()
                for key in list(body)[:SWEEP]
                for bad in ("%ED%A0%80", "%FF")
            ]
        else:
            variants = []
        for variant in variants:
            # A new case: schemathesis would re-validate an edited one, and its validator
            # cannot encode a surrogate either.
            send(
                case.operation.Case(
                    method=case.method,
                    path_parameters=case.path_parameters,
                    headers=dict(case.headers or {}),
                    cookies=case.cookies,
                    query=case.query,
                    body=variant,
                    media_type=case.media_type,
                )
            )

    def fuzz(operation: Any, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=os.environ.get("ENVOI_FUZZ_RANDOM") != "1",
            database=None,
            phases=PHASES,  # short runs find and report; long ones (make chaos) also shrink
            report_multiple_bugs=False,
        )
        def run(case: Any) -> None:
            call(case, mode)

        run()

    for result in schema.get_all_operations():
        operation = result.ok()
        counts["operations"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode)
            except Unsatisfiable:  # no invalid input can be made for this one (GET /healthz)
                counts["unsatisfiable"] += 1
            except Exception as exc:
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:3000]

    problems = ledger_check.check(envoi.engine)  # whatever was called, the books balance
    print(f"\nfuzz figures: {json.dumps(counts)}")
    if report := os.environ.get("ENVOI_CHAOS_REPORT"):
        with Path(report).open("a") as out:
            out.write(json.dumps({"fuzz": "schemathesis", **counts}) + "\n")
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert problems == [], problems
    assert counts["operations"] > 20
    assert counts["surrogates"] > 0  # the sweep did reach the bodies
