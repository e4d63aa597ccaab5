"""The reduced chaos run (the full one is `make chaos`): workers SIGKILLed, PostgreSQL and Redis
restarted, while executions with counted side effects run. Nothing is lost, nothing runs twice.

It runs `bench/chaos.py --private` as a program: a PostgreSQL cluster and a Redis server of its own
(bench/services.py), so the restarts are real and cut nobody else's connections, and the run can go
side by side with the rest of the suite."""

import json
import subprocess
import sys

import pytest

from bench import services
from tests.live import ROOT, live_env

MISSING = services.missing()
pytestmark = [
    pytest.mark.live,
    pytest.mark.timeout(450),  # the program's own limit (300 s) plus its start and migrations
    pytest.mark.skipif(bool(MISSING), reason=f"chaos: {MISSING}"),
]


def test_chaos_loses_nothing_and_runs_nothing_twice(tmp_path, capsys):
    # The fast heartbeats, leases and reaping of the live tests; the program puts its own
    # database and Redis in place of the test's.
    env = live_env(IB_LEASE_SECONDS="4")
    report_path, output_path = tmp_path / "report.json", tmp_path / "chaos.out"

    with output_path.open("w") as output:
        run = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "chaos.py"),
                "--private",
                "--count",
                "100",
                "--kill-every",
                "1.5",
                "--timeout",
                "300",
                "--json",
                str(report_path),
                "--log-dir",
                str(tmp_path),
            ],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=400,
        )
    printed = output_path.read_text()

    with capsys.disabled():
        print("\nchaos (reduced):\n  " + printed.strip().replace("\n", "\n  "))
    assert report_path.exists(), printed
    report = json.loads(report_path.read_text())
    assert report["lost"] == 0, printed
    assert report["steps_twice_in_one_attempt"] == 0, printed
    assert report["executions_passed_twice"] == 0, printed
    assert report["outcomes"] == {"passed": 100}, printed
    assert report["kills"], "no worker was killed: the scenario did not happen"
    assert len(report["restarts"]) == 2, report["restarts"]  # PostgreSQL, then Redis
    assert run.returncode == 0, printed
