"""Real pytest sessions with the plugin, for the end-to-end tests: a generated test file run by
`python -m pytest` in a child process (its own folder, rootdir and process group), reporting to a
live server. Its tests can wait at gates that the test opens, so the test decides when the
session moves on and can look at the server in between."""

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from bench.common import stop_group
from tests.live import wait_until

# The session's tests. wait_for(gate) is what a slow test looks like from outside: the session is
# busy while the test decides; it announces that it waits, then waits for the gate's file.
GATED_TESTS = """
import os
import time

import pytest

GATES = os.environ["GATES"]


def wait_for(name):
    open(os.path.join(GATES, name + ".waiting"), "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(GATES, name)):
        assert time.monotonic() < deadline, f"gate {name} was never opened"
        time.sleep(0.02)


@pytest.mark.parametrize("n", range(5))
def test_early(n):
    pass


def test_gate_a():
    wait_for("a")


@pytest.mark.parametrize("n", range(5))
def test_late(n):
    pass


def test_gate_b():
    wait_for("b")


def test_last():
    pass
"""

# Every kind of outcome pytest has, and a rerun (pytest-rerunfailures).
MIXED_TESTS = """
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("setup broke")


@pytest.fixture
def breaks_after():
    yield
    raise RuntimeError("teardown broke")


def test_pass():
    pass


def test_fail():
    print("said on stdout")
    assert 1 == 2


def test_setup_error(broken):
    pass


def test_teardown_error(breaks_after):
    pass


@pytest.mark.skip(reason="not today")
def test_skip():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert 0


@pytest.mark.xfail(reason="fixed already?")
def test_xpass():
    pass


class TestGroup:
    @pytest.mark.parametrize("n", [1, 2])
    def test_param(self, n):
        pass


RUNS = []


@pytest.mark.flaky(reruns=2)
def test_flaky():
    RUNS.append(1)
    assert len(RUNS) >= 2, "fails the first time"
"""


def write_tests(folder: Path, source: str, name: str = "test_session.py") -> None:
    (folder / "pytest.ini").write_text("[pytest]\n")  # its own rootdir, none of ours
    (folder / name).write_text(source)


class Session:
    def __init__(self, proc: subprocess.Popen, log: Path, gates: Path):
        self.proc = proc
        self.log = log
        self.gates = gates

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def run_id(self, timeout: float = 60) -> int:
        def said():
            assert self.proc.poll() is None or "reporting to run" in self.output(), self.output()
            found = re.search(r"IntelliBrowse: reporting to run #(\d+)", self.output())
            return int(found.group(1)) if found else None

        return wait_until(said, timeout=timeout, interval=0.05, what="the run's address")

    def waiting_at(self, gate: str, timeout: float = 60) -> None:
        wait_until(
            lambda: (self.gates / f"{gate}.waiting").exists(),
            timeout=timeout,
            what=f"the session to reach gate {gate}",
        )

    def open(self, gate: str) -> None:
        (self.gates / gate).touch()

    def wait(self, timeout: float = 120) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the session did not end:\n{self.output()[-3000:]}") from None


def plugin_env(url: str, token: str, project: int, folder: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTELLIBROWSE_", "PYTEST_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        INTELLIBROWSE_URL=url,
        INTELLIBROWSE_TOKEN=token,
        INTELLIBROWSE_PROJECT=str(project),
        INTELLIBROWSE_SPOOL_DIR=str(folder / "spool"),
        GATES=str(folder),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@contextmanager
def pytest_session(folder: Path, env: dict, *args: str):
    """`python -m pytest` in `folder` (the plugin comes in by its entry point), in its own process
    group, stopped with everything it started when the block ends."""
    log = folder / "session.log"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:django", *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield Session(proc, log, folder)
        finally:
            stop_group(proc, 5)


def until(predicate, *, timeout: float = 60, what: str = "condition"):
    started = time.monotonic()
    value = wait_until(predicate, timeout=timeout, interval=0.1, what=what)
    return value, time.monotonic() - started
