"""The pytest plugin end to end: a real pytest session in a child process, with the plugin
installed from the repository (clients/pytest-intellibrowse, by its entry point), reporting to a
real uvicorn, with the real reaper ending silent runs. Results arrive while the session runs; a
killed session's run ends `interrupted` within its lease; a server that goes away and comes back
gets every result and the session stays green; an answer lost on the way makes the plugin send
the batch again, stored once; xdist's workers report into one run."""

import os
import re
import signal
import threading
import time
from contextlib import ExitStack, suppress

import httpx
import pytest
from rest_framework.authtoken.models import Token

from executions.models import Execution, ExecutionStatus, ReportedBatch, Trigger
from executions.traces import trace_of, trace_steps
from tests.clients.proxy import LosingRelay
from tests.clients.sessions import (
    GATED_TESTS,
    MIXED_TESTS,
    plugin_env,
    pytest_session,
    until,
    write_tests,
)
from tests.executions.test_reported_runs_live import reaper
from tests.live import free_port, live_env
from tests.monitoring.test_live import uvicorn, wait_for_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
LEASE = 5  # the shortest the server takes


def server_env() -> dict:
    return live_env(REDIS_URL="", IB_WS_SWEEP_SECONDS="600", IB_ALERT_EVALUATE_SECONDS="0")


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """A uvicorn and the reaper (what every worker process runs), for the module."""
    env = server_env()
    port = free_port()
    logs = tmp_path_factory.mktemp("server")
    with (
        uvicorn(env, port, logs / "uvicorn.log") as proc,
        reaper(env, logs / "reaper.log") as reaping,
    ):
        wait_for_server(port, proc)
        yield port
        assert proc.poll() is None, (logs / "uvicorn.log").read_text()[-3000:]
        assert reaping.poll() is None, (logs / "reaper.log").read_text()[-3000:]


@pytest.fixture
def token(member):
    return Token.objects.create(user=member).key


def api(port: int, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {token}"}, timeout=30
    )


def steps_of(run_id: int) -> list[dict]:
    return trace_steps(trace_of(Execution.objects.get(pk=run_id)))


def test_results_arrive_while_the_session_runs_and_the_run_closes_with_its_outcome(
    server, project, token, tmp_path
):
    write_tests(tmp_path, GATED_TESTS)
    env = plugin_env(f"http://127.0.0.1:{server}", token, project.pk, tmp_path)
    env["INTELLIBROWSE_REVISION"] = "abc123"
    with api(server, token) as client, pytest_session(tmp_path, env, "-q") as session:
        run_id = session.run_id()
        assert f"http://127.0.0.1:{server}/executions/{run_id}/" in session.output()
        session.waiting_at("a")

        def five_results():
            run = client.get(f"/api/v1/reported-runs/{run_id}/").json()
            return run if run["summary"]["steps_done"] == 5 else None

        run, _ = until(five_results, timeout=30, what="the first results over the API")
        # Seen while the session still runs, blocked in test_gate_a.
        assert session.proc.poll() is None
        assert run["status"] == "running"
        assert run["revision"] == "abc123"
        session.open("a")
        session.waiting_at("b")
        until(
            lambda: (
                client.get(f"/api/v1/reported-runs/{run_id}/").json()["summary"]["steps_done"] == 11
            ),
            timeout=30,
            what="the later results",
        )
        assert session.proc.poll() is None
        session.open("b")
        assert session.wait() == 0, session.output()
        run = client.get(f"/api/v1/reported-runs/{run_id}/").json()

    assert run["status"] == "passed"
    assert run["summary"]["counts"] == {"passed": 13}
    names = [s["name"] for s in steps_of(run_id)]
    assert names[:6] == [f"test_session.test_early[{n}]" for n in range(5)] + [
        "test_session.test_gate_a"
    ]
    assert "IntelliBrowse: 13 result(s) delivered" in session.output()
    assert not list((tmp_path / "spool").iterdir())  # all delivered: no spool left behind


def test_each_outcome_and_each_rerun_is_reported_and_the_run_fails(
    server, project, token, tmp_path
):
    write_tests(tmp_path, MIXED_TESTS)
    env = plugin_env(f"http://127.0.0.1:{server}", token, project.pk, tmp_path)
    with pytest_session(tmp_path, env, "-q") as session:
        run_id = session.run_id()
        assert session.wait() == 1, session.output()

    execution = Execution.objects.get(pk=run_id)
    assert execution.status == ExecutionStatus.FAILED
    got = {
        (s["name"].removeprefix("test_session."), s["attempt_of_test"]): (
            s["status"],
            s.get("message", ""),
        )
        for s in steps_of(run_id)
    }
    assert got == {
        ("test_pass", 1): ("passed", ""),
        ("test_fail", 1): ("failed", "assert 1 == 2"),
        ("test_setup_error", 1): ("error", "error in setup: RuntimeError: setup broke"),
        ("test_teardown_error", 1): ("error", "error in teardown: RuntimeError: teardown broke"),
        ("test_skip", 1): ("skipped", "Skipped: not today"),
        ("test_xfail", 1): ("skipped", "XFAIL known bug"),
        ("test_xpass", 1): ("passed", "XPASS fixed already?"),
        ("TestGroup.test_param[1]", 1): ("passed", ""),
        ("TestGroup.test_param[2]", 1): ("passed", ""),
        ("test_flaky", 1): (
            "failed",
            "AssertionError: fails the first time\nassert 1 >= 2\n +  where 1 = len([1])",
        ),
        ("test_flaky", 2): ("passed", ""),
    }
    said = {s["name"].removeprefix("test_session."): s.get("outcome") for s in steps_of(run_id)}
    assert (said["test_xfail"], said["test_xpass"]) == ("xfailed", "xpassed")  # kept as sent
    failed = next(s for s in steps_of(run_id) if s["name"].endswith("test_fail"))
    assert failed["stdout"] == "said on stdout\n"
    assert "assert 1 == 2" in failed["traceback"]


def test_a_killed_session_leaves_its_run_interrupted_within_the_lease(
    server, project, token, tmp_path
):
    write_tests(tmp_path, GATED_TESTS)
    env = plugin_env(
        f"http://127.0.0.1:{server}",
        token,
        project.pk,
        tmp_path,
        INTELLIBROWSE_LEASE_SECONDS=str(LEASE),
    )
    with pytest_session(tmp_path, env, "-q") as session:
        run_id = session.run_id()
        session.waiting_at("a")
        until(lambda: len(steps_of(run_id)) == 5, timeout=30, what="the first results")
        # Quiet for longer than its lease, the session keeps its run alive by heartbeats.
        quiet_until = time.monotonic() + LEASE + 2
        while time.monotonic() < quiet_until:
            assert Execution.objects.get(pk=run_id).status == ExecutionStatus.RUNNING
            time.sleep(0.2)
        os.kill(session.proc.pid, signal.SIGKILL)
        session.proc.wait(10)
        killed_at = time.monotonic()

        def interrupted():
            execution = Execution.objects.get(pk=run_id)
            return execution if execution.status != ExecutionStatus.RUNNING else None

        execution, _ = until(interrupted, timeout=LEASE + 20, what="the run to end")
        ended_after = time.monotonic() - killed_at

    assert execution.status == ExecutionStatus.INTERRUPTED
    assert ended_after < LEASE + 5  # within the lease, and a pass of the reaper (every 0.3 s)
    assert len(steps_of(run_id)) == 5  # what arrived is kept


def test_an_answer_lost_on_the_way_makes_the_batch_go_again_and_it_is_stored_once(
    server, project, token, tmp_path
):
    write_tests(tmp_path, GATED_TESTS)
    (tmp_path / "a").touch()
    (tmp_path / "b").touch()
    with LosingRelay(server, match=b"/batches/", lose=1) as relay:
        env = plugin_env(f"http://127.0.0.1:{relay.port}", token, project.pk, tmp_path)
        with pytest_session(tmp_path, env, "-q") as session:
            run_id = session.run_id()
            assert session.wait() == 0, session.output()

    assert len(relay.lost) == 1
    sent = [r["line"] for r in relay.requests if b"/batches/" in r["line"]]
    assert len(sent) == ReportedBatch.objects.filter(execution_id=run_id).count() + 1
    names = [s["name"] for s in steps_of(run_id)]
    assert len(names) == len(set(names)) == 13  # each result once
    assert Execution.objects.get(pk=run_id).status == ExecutionStatus.PASSED
    assert "1 batch(es) sent again after a lost answer; the server kept each once" in (
        session.output()
    )


def test_a_slow_server_does_not_hold_the_session_up_and_still_gets_every_result(
    server, project, token, tmp_path
):
    write_tests(tmp_path, GATED_TESTS)
    (tmp_path / "a").touch()
    (tmp_path / "b").touch()
    slow = threading.Event()
    with LosingRelay(server, match=b"/batches/", hold=slow) as relay:
        env = plugin_env(f"http://127.0.0.1:{relay.port}", token, project.pk, tmp_path)
        with pytest_session(tmp_path, env, "-q", "--ib-final-timeout", "1") as session:
            run_id = session.run_id()
            # Ends although no batch has had an answer: the rest is handed to a process.
            assert session.wait() == 0, session.output()
        output = session.output()
        handed = re.search(r"13 result\(s\) still on their way: .* process (\d+) goes on", output)
        assert handed, output
        helper = int(handed.group(1))
        try:
            assert Execution.objects.get(pk=run_id).status == ExecutionStatus.RUNNING
            slow.set()  # the server catches up

            def closed():
                execution = Execution.objects.get(pk=run_id)
                return execution if execution.status != ExecutionStatus.RUNNING else None

            execution, _ = until(closed, timeout=60, what="the helper to close the run")
            # Its work done, the helper deletes the spool.
            until(
                lambda: not list((tmp_path / "spool").glob("*.jsonl")),
                timeout=30,
                what="the spool to go",
            )
        finally:
            with suppress(ProcessLookupError):
                os.kill(helper, signal.SIGKILL)

    assert execution.status == ExecutionStatus.PASSED
    names = [s["name"] for s in steps_of(run_id)]
    assert len(names) == len(set(names)) == 13


def test_xdist_workers_report_into_one_run(server, project, token, tmp_path):
    write_tests(tmp_path, MIXED_TESTS)
    env = plugin_env(f"http://127.0.0.1:{server}", token, project.pk, tmp_path)
    with pytest_session(tmp_path, env, "-q", "-n", "2") as session:
        run_id = session.run_id()
        assert session.wait() == 1, session.output()

    assert list(
        Execution.objects.filter(trigger=Trigger.REPORTED).values_list("pk", flat=True)
    ) == [run_id]
    steps = steps_of(run_id)
    assert len(steps) == 11  # ten tests, one of them run twice
    assert Execution.objects.get(pk=run_id).status == ExecutionStatus.FAILED


def test_a_session_goes_on_while_the_server_is_away_and_it_catches_up(project, token, tmp_path):
    env = server_env()
    port = free_port()
    write_tests(tmp_path, GATED_TESTS)
    session_env = plugin_env(f"http://127.0.0.1:{port}", token, project.pk, tmp_path)
    with ExitStack() as stack:
        first_server = ExitStack()
        stack.push(first_server)  # stopped below, or at the latest when the test ends
        first = first_server.enter_context(uvicorn(env, port, tmp_path / "uvicorn-1.log"))
        wait_for_server(port, first)
        session = stack.enter_context(pytest_session(tmp_path, session_env, "-q"))
        run_id = session.run_id()
        session.waiting_at("a")
        until(lambda: len(steps_of(run_id)) == 5, timeout=30, what="the first results")

        first_server.close()  # the server goes away; the session goes on without it
        session.open("a")
        session.waiting_at("b")  # test_gate_a and test_late ran while the server was away
        assert session.proc.poll() is None
        assert len(steps_of(run_id)) == 5

        second = stack.enter_context(uvicorn(env, port, tmp_path / "uvicorn-2.log"))
        wait_for_server(port, second)
        until(lambda: len(steps_of(run_id)) == 11, timeout=30, what="the plugin to catch up")
        assert session.proc.poll() is None  # caught up while the session still runs
        session.open("b")
        assert session.wait() == 0, session.output()

    execution = Execution.objects.get(pk=run_id)
    assert execution.status == ExecutionStatus.PASSED
    assert len(steps_of(run_id)) == 13
    output = session.output()
    assert "the server did not answer 1 time(s)" in output
    assert "not delivered" not in output
    assert "13 passed" in output
