"""The crash points of ``envoi.faults``: off unless asked, and a real SIGKILL when asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from envoi.faults import ENV, CrashPlan

SCRIPT = """
import sys
from envoi.faults import crash_point
for i in range(200):
    crash_point(sys.argv[1])
    print(i, flush=True)
"""


def run(name: str, spec: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if spec is not None:
        env[ENV] = spec
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", SCRIPT, name],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_the_variable_nothing_ever_crashes() -> None:
    done = run("delivery.sent", None)
    assert done.returncode == 0
    assert done.stdout.split()[-1] == "199"


def test_a_matching_point_kills_the_process_with_sigkill_and_says_where() -> None:
    done = run("delivery.sent", "delivery.*:1:7")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == ""  # nothing ran after the first crash point
    assert "crash point delivery.sent" in done.stderr


def test_a_point_that_does_not_match_runs_on() -> None:
    assert run("intake.committed", "delivery.*,confirm.settled:1:7").returncode == 0


def test_the_same_seed_crashes_at_the_same_pass() -> None:
    first, second = run("x", "*:0.05:1234"), run("x", "*:0.05:1234")
    assert first.returncode == second.returncode == -signal.SIGKILL
    assert first.stdout == second.stdout  # the same passes went through before the kill
    other = run("x", "*:0.05:99")
    assert other.stdout != first.stdout


@pytest.mark.parametrize(
    "spec", ["delivery.sent", "delivery.sent:0.5", ":0.5:1", "x:1.5:1", "x:abc:1", "x:0.5:z"]
)
def test_a_malformed_plan_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=ENV):
        CrashPlan.parse(spec)
    assert run("x", spec).returncode == 1  # at import: never a silent "no faults"


def test_a_plan_reads_its_parts() -> None:
    plan = CrashPlan.parse("delivery.*, confirm.settled:0.25:42")
    assert (plan.patterns, plan.probability, plan.seed) == (
        ("delivery.*", "confirm.settled"),
        0.25,
        42,
    )
    assert plan.matches("delivery.mid_batch")
    assert not plan.matches("intake.committed")
