"""Cancel and timeouts reach a step that is busy: the engine runs in a thread (as in a worker),
the test thread plays the worker's watchdog, and whatever the step started is gone afterwards."""

import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from catalog.models import CaseType, RunnerProfile
from engine import watchdog
from engine import worker as engine
from executions.models import ExecutionStatus
from executions.services import claim, reaper
from executions.services.people import execution_cancel
from runners.context import Cancelled, StopKind
from runners.generic import GenericRunner
from tests.executions.local_site import (
    LocalSite,
    chromium_processes_of_runs,
    needs_browser,
    process_alive,
    steps_of,
)
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db(transaction=True)
STOP_WITHIN_SECONDS = 2.0
SLEEPER = 'echo $$ > "$PIDFILE"; sleep 30 & echo $! >> "$PIDFILE"; wait'
ESCAPER = Path(__file__).with_name("escaper.py")


class Worker:
    """engine.run_next on its own thread, as a django-q2 worker would call it."""

    def __init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            engine.run_next(worker="w")
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()

    def __enter__(self) -> "Worker":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(timeout=60)

    def watch_until_done(self, seconds: float) -> float:
        """Run the watchdog's per-process pass until the run ends; return how long it took."""
        started = time.monotonic()
        while self.thread.is_alive() and time.monotonic() - started < seconds:
            watchdog.check_tracked(heartbeat=True)
            self.thread.join(timeout=0.05)
        return time.monotonic() - started


def wait_for(condition, seconds: float = 20.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "the step did not start in time"
        time.sleep(0.02)  # polling for the worker thread to get going


def sleeper_case(project, command_tmp, **step_options):
    pidfile = command_tmp / "pids"
    RunnerProfile.objects.create(
        project=project, name="sleeper", argv=["sh", "-c", SLEEPER], env={"PIDFILE": str(pidfile)}
    )
    case = TestCaseFactory(
        project=project,
        steps=[
            {
                "name": "sleep for long",
                "action": "command",
                "params": {"profile": "sleeper"},
                **step_options,
            }
        ],
    )
    return case, pidfile


def started_pids(pidfile: Path) -> list[int]:
    wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2)
    pids = [int(p) for p in pidfile.read_text().split()]
    assert all(process_alive(p) for p in pids)
    return pids


def test_cancel_kills_a_running_command_and_everything_it_started(project, command_tmp):
    case, pidfile = sleeper_case(project, command_tmp)
    execution = execution_for(case)

    with Worker() as worker:
        pids = started_pids(pidfile)
        execution_cancel(execution.pk, reason="stop it")
        took = worker.watch_until_done(10)

    execution.refresh_from_db()
    assert worker.error is None
    assert took < STOP_WITHIN_SECONDS
    assert execution.status == S.CANCELLED
    assert execution.status_reason == "stop it"
    assert not any(process_alive(p) for p in pids)
    (step,) = steps_of(execution)  # the interrupted step is in the trace, saying why
    assert (step["status"], step["error"]["type"]) == ("interrupted", "Cancelled")
    assert step["actual"] == "interrupted: cancelled"


def test_a_step_timeout_times_the_run_out_and_names_the_step(project, command_tmp):
    case, pidfile = sleeper_case(project, command_tmp, timeout=1)
    execution = execution_for(case)

    with Worker() as worker:
        pids = started_pids(pidfile)
        took = worker.watch_until_done(10)

    execution.refresh_from_db()
    assert took < 1 + STOP_WITHIN_SECONDS
    assert execution.status == S.TIMED_OUT
    assert execution.status_reason == "step 'sleep for long' overran its 1 s timeout"
    assert not any(process_alive(p) for p in pids)
    (step,) = steps_of(execution)
    assert step["status"] == "error"
    assert step["error"]["type"] == "StepTimeout"


def test_the_execution_deadline_stops_a_running_step(project, command_tmp):
    case, pidfile = sleeper_case(project, command_tmp)
    execution = execution_for(case, timeout_seconds=2)

    with Worker() as worker:
        pids = started_pids(pidfile)
        worker.watch_until_done(10)

    execution.refresh_from_db()
    assert execution.status == S.TIMED_OUT
    assert execution.status_reason == "execution timeout reached"
    assert not any(process_alive(p) for p in pids)
    (step,) = steps_of(execution)
    assert (step["status"], step["error"]["type"]) == ("error", "Timeout")


def escaper_case(project, folder: Path, *, scrub: bool = False, **step_options):
    RunnerProfile.objects.create(
        project=project,
        name="escaper",
        argv=["{{ python }}", str(ESCAPER), str(folder), *(["scrub"] if scrub else [])],
    )
    step = {"name": "escape", "action": "command", "params": {"profile": "escaper"}}
    return TestCaseFactory(project=project, steps=[{**step, **step_options}])


def beating_pid(folder: Path) -> int:
    wait_for(lambda: (folder / "pid").exists() and (folder / "beat").exists())
    return int((folder / "pid").read_text())


def assert_gone_for_good(pid: int, folder: Path) -> None:
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped: not even a zombie is left
    size = (folder / "beat").stat().st_size
    give_up = time.monotonic() + 0.5
    while time.monotonic() < give_up:  # a living grandchild appends every 20 ms
        assert (folder / "beat").stat().st_size == size
        time.sleep(0.05)


@pytest.mark.parametrize("scrub", [False, True], ids=["marked", "environment-cleared"])
def test_cancel_kills_a_grandchild_in_a_session_of_its_own(project, command_tmp, scrub):
    execution = execution_for(escaper_case(project, command_tmp, scrub=scrub))

    with Worker() as worker:
        pid = beating_pid(command_tmp)
        execution_cancel(execution.pk, reason="stop it")
        worker.watch_until_done(10)

    execution.refresh_from_db()
    assert execution.status == S.CANCELLED
    assert_gone_for_good(pid, command_tmp)


def test_a_step_timeout_kills_a_grandchild_in_a_session_of_its_own(project, command_tmp):
    execution = execution_for(escaper_case(project, command_tmp, timeout=1))

    with Worker() as worker:
        pid = beating_pid(command_tmp)
        worker.watch_until_done(10)

    execution.refresh_from_db()
    assert execution.status == S.TIMED_OUT
    assert_gone_for_good(pid, command_tmp)


def test_a_grandchild_that_outlives_a_finished_command_is_killed(project, command_tmp):
    """The command exits while its escaped grandchild still runs: the step's end kills it."""
    RunnerProfile.objects.create(
        project=project,
        name="quick",
        argv=[
            "sh",
            "-c",
            '"$0" "$1" "$2" & sleep 1',
            "{{ python }}",
            str(ESCAPER),
            str(command_tmp),
        ],
    )
    case = TestCaseFactory(
        project=project, steps=[{"action": "command", "params": {"profile": "quick"}}]
    )
    execution = execution_for(case)

    with Worker() as worker:
        pid = beating_pid(command_tmp)
        worker.watch_until_done(10)

    execution.refresh_from_db()
    assert execution.status == S.PASSED
    assert_gone_for_good(pid, command_tmp)


def test_cancel_stops_a_slow_http_request(project):
    with LocalSite() as site:
        case = TestCaseFactory(
            project=project,
            steps=[{"action": "http", "params": {"url": site.url("/slow?ms=5000"), "timeout": 30}}],
        )
        execution = execution_for(case)
        with Worker() as worker:
            wait_for(lambda: "/slow?ms=5000" in site.seen)
            execution_cancel(execution.pk)
            took = worker.watch_until_done(10)

    execution.refresh_from_db()
    assert took < STOP_WITHIN_SECONDS
    assert execution.status == S.CANCELLED


def test_a_request_that_went_out_before_the_cancel_is_recorded_as_interrupted(project):
    """The cancel came while step 1 ran; step 2 had sent its request when the worker saw it."""
    with LocalSite() as site:
        case = TestCaseFactory(
            project=project,
            steps=[
                {"name": "fast", "action": "http", "params": {"url": site.url("/text")}},
                {
                    "name": "slow",
                    "action": "http",
                    "params": {"method": "POST", "url": site.url("/slow?ms=5000")},
                },
            ],
        )
        execution = execution_for(case)
        with Worker() as worker:
            wait_for(lambda: "/slow?ms=5000" in site.seen)
            execution_cancel(execution.pk, reason="stop it")
            worker.watch_until_done(10)

    execution.refresh_from_db()
    assert execution.status == S.CANCELLED
    fast, slow = steps_of(execution)
    assert fast["status"] == "passed"
    assert (slow["status"], slow["error"]["type"]) == ("interrupted", "Interrupted")
    assert slow["actual"]["sent"] is True
    assert slow["actual"]["request"] == {"method": "POST", "url": site.url("/slow?ms=5000")}
    assert slow["actual"]["response"] is None


def test_a_bdd_request_that_went_out_before_the_cancel_is_recorded_as_interrupted(project):
    with LocalSite() as site:
        feature = (
            "Feature: F\n  Scenario: Slow\n"
            f'    When I send a GET request to "{site.url("/slow?ms=5000")}"\n'
            "    Then the response status is 200\n"
        )
        case = TestCaseFactory(project=project, type=CaseType.BDD, steps=[], feature=feature)
        execution = execution_for(case)
        with Worker() as worker:
            wait_for(lambda: "/slow?ms=5000" in site.seen)
            execution_cancel(execution.pk, reason="stop it")
            worker.watch_until_done(10)

    execution.refresh_from_db()
    assert execution.status == S.CANCELLED
    (step,) = steps_of(execution)
    assert (step["status"], step["actual"]["sent"]) == ("interrupted", True)


def test_a_step_a_cancel_stopped_before_it_started_is_skipped(project):
    case = TestCaseFactory(
        project=project,
        steps=[{"name": "never", "action": "set", "params": {"values": {"a": 1}}}],
    )
    execution = execution_for(case)
    claimed = claim.execution_claim_next(worker="w")
    ctx = engine.context_for(claimed)
    ctx.request_stop("stop it", StopKind.CANCEL)

    with pytest.raises(Cancelled):
        GenericRunner().run(ctx, claimed.test_case, engine.recorder_for(ctx, "w"))

    (step,) = steps_of(execution)
    assert (step["status"], step["actual"]) == ("skipped", "not run: stop it")


def test_a_bdd_step_timeout_times_the_run_out(project):
    feature = "Feature: F\n  Scenario: Waiting\n    Given I wait 30 seconds\n"
    case = TestCaseFactory(project=project, type=CaseType.BDD, steps=[], feature=feature)
    execution = execution_for(case, step_timeout_seconds=1)

    with Worker() as worker:
        took = worker.watch_until_done(10)

    execution.refresh_from_db()
    assert took < 1 + STOP_WITHIN_SECONDS + 1
    assert execution.status == S.TIMED_OUT
    assert (
        execution.status_reason
        == "step 'Waiting › Given I wait 30 seconds' overran its 1 s timeout"
    )


@pytest.mark.browser
@needs_browser
def test_cancel_kills_the_browser_of_a_busy_step(project, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with LocalSite() as site:
        case = TestCaseFactory(
            project=project,
            steps=[
                {"action": "browser", "params": {"do": "goto", "url": site.url("/page/form")}},
                {
                    "action": "browser",
                    "params": {"do": "wait_for", "selector": "#never", "timeout": 60},
                },
            ],
        )
        execution = execution_for(case)
        with Worker() as worker:
            wait_for(lambda: len(steps_of(execution)) == 1)
            assert chromium_processes_of_runs()
            execution_cancel(execution.pk)
            took = worker.watch_until_done(10)

    execution.refresh_from_db()
    assert took < STOP_WITHIN_SECONDS
    assert execution.status == S.CANCELLED
    assert chromium_processes_of_runs() == []


def test_a_worker_whose_lease_was_recovered_mid_step_stops_and_writes_nothing(project, settings):
    """Not frozen: its heartbeat was late (a slow database), the reaper re-queued the run and
    another worker claimed attempt 2 while this one was still in its step."""
    from datetime import timedelta

    from django.utils import timezone

    case = TestCaseFactory(
        project=project,
        steps=[
            {"name": "first", "action": "set", "params": {"values": {"a": 1}}},
            {"name": "long", "action": "wait", "params": {"seconds": 30}},
            {"name": "last", "action": "set", "params": {"values": {"b": 2}}},
        ],
    )
    execution = execution_for(case)
    with Worker() as worker:
        wait_for(lambda: len(steps_of(execution)) == 1)
        later = timezone.now() + timedelta(seconds=settings.IB_LEASE_SECONDS + 1)
        reaper.execution_recover_lost(execution.pk, now=later)
        taken = claim.execution_claim_next(worker="other:2")
        assert (taken.pk, taken.attempt_count) == (execution.pk, 2)
        took = worker.watch_until_done(10)

    execution.refresh_from_db()
    assert worker.error is None
    assert took < STOP_WITHIN_SECONDS
    assert (execution.status, execution.worker, execution.attempt_count) == (
        S.RUNNING,
        "other:2",
        2,
    )
    assert steps_of(execution) == []  # attempt 2's trace: nothing from the first worker
    assert not execution.events.filter(actor_label="worker w", attempt_number=2).exists()
    assert not execution.events.filter(seq__gt=taken.event_seq, actor_label="worker w").exists()
