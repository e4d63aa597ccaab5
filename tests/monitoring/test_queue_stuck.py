"""A stuck queue: work that could start waits past the lease time while a live worker sits idle.

What is stuck and what is not (a backlog on busy workers, the pause, project and suite limits, no
worker at all), and the three places that report it: /health/ready (`queue`, required), the
queue_stuck alert and /metrics. tests/monitoring/test_stuck_queue_live.py jams a real cluster.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from engine import watchdog
from executions.models import Execution
from executions.services import claim
from executions.services.queue import queue_pause
from monitoring.alerts import alerts_check
from monitoring.models import AlertKind, WorkerHeartbeat
from monitoring.workers import StuckQueue, queue_stuck, worker_seen
from runners.context import RunContext
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory, execution_for

LEASE = 8


@pytest.fixture(autouse=True)
def lease(settings):
    settings.IB_LEASE_SECONDS = LEASE


def idle_worker(worker_id: str = "host-a:10", since=None) -> None:
    worker_seen(worker_id, [], idle_since=since or timezone.now())


def later(seconds: float):
    """A moment `seconds` from now, with the workers still reporting then: the clock moves
    instead of the data."""
    moment = timezone.now() + timedelta(seconds=seconds)
    WorkerHeartbeat.objects.update(last_seen=moment)
    return moment


def test_startable_work_waiting_past_the_lease_on_an_idle_worker_is_stuck(case):
    execution_for(case)
    execution_for(case)
    idle_worker()
    assert queue_stuck(now=later(LEASE - 1)) is None

    stuck = queue_stuck(now=later(LEASE + 1))

    assert isinstance(stuck, StuckQueue)
    assert (stuck.waiting, stuck.idle_workers) == (2, 1)
    assert stuck.oldest_seconds > LEASE


def test_a_backlog_on_busy_workers_is_not_stuck(case):
    execution_for(case)
    execution_for(case)
    running = claim.execution_claim_next(worker="host-a:10")
    worker_seen("host-a:10", [running.pk], idle_since=None)
    assert queue_stuck(now=later(60)) is None


def test_a_worker_that_just_finished_a_run_is_not_idle_long_enough(case):
    execution_for(case)
    idle_worker(since=timezone.now() + timedelta(seconds=LEASE))
    assert queue_stuck(now=later(LEASE + 1)) is None


def test_waiting_without_any_worker_is_not_stuck_but_no_worker(case):
    execution_for(case)
    assert queue_stuck(now=later(60)) is None
    assert {c.kind for c in alerts_check(now=later(60))} == {AlertKind.NO_WORKER}


def test_a_paused_queue_is_not_stuck(case):
    execution_for(case)
    idle_worker()
    queue_pause(reason="deploy")
    assert queue_stuck(now=later(60)) is None


def test_work_held_back_by_its_project_limit_is_not_stuck(case, project):
    project.max_concurrency = 1
    project.save()
    execution_for(case)
    execution_for(case)
    claim.execution_claim_next(worker="host-b:20")
    idle_worker()
    assert queue_stuck(now=later(60)) is None
    assert claim.execution_claim_next(worker="host-a:10") is None  # the claim agrees


def test_work_held_back_by_its_suite_is_not_stuck_until_the_suite_has_room(project):
    suite = TestSuiteFactory(project=project, max_parallel=1)
    for order in range(2):
        SuiteItemFactory(suite=suite, case=TestCaseFactory(project=project), order=order)
    execution_for(suite=suite)
    idle_worker()
    assert queue_stuck(now=later(60)).waiting == 2  # both children could start: no child runs

    claim.execution_claim_next(worker="host-b:20")

    assert queue_stuck(now=later(60)) is None  # the other one waits for its suite's slot
    assert claim.execution_claim_next(worker="host-a:10") is None  # the claim agrees


def test_the_watchdog_reports_a_worker_idle_only_while_it_runs_nothing(case, db):
    execution = execution_for(case)
    me = watchdog.worker_id()
    ctx = RunContext(execution_id=execution.pk, attempt_id=0, project_id=case.project_id)
    watchdog.track(execution.pk, ctx, me)
    try:
        watchdog._report_alive()
        assert WorkerHeartbeat.objects.get(worker_id=me).idle_since is None
    finally:
        watchdog.untrack(execution.pk)
    watchdog._report_alive()
    idle_since = WorkerHeartbeat.objects.get(worker_id=me).idle_since
    assert timezone.now() - idle_since < timedelta(seconds=LEASE)


def backdate(execution, seconds: float) -> None:
    # Test set-up only: the health endpoint reads the real clock, so the data is made older.
    Execution.objects.filter(pk=execution.pk).update(
        queued_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_ready_is_503_with_queue_failing_while_work_is_stuck_and_200_once_taken(case, admin_client):
    backdate(execution_for(case), LEASE + 5)
    idle_worker(since=timezone.now() - timedelta(seconds=LEASE + 5))

    response = admin_client.get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["queue"]["ok"] is False
    assert body["checks"]["queue"]["required"] is True
    assert "1 worker(s) sat idle" in body["checks"]["queue"]["detail"]
    assert all(body["checks"][name]["ok"] for name in ("database", "broker", "workers"))

    taken = claim.execution_claim_next(worker="host-a:10")
    worker_seen("host-a:10", [taken.pk], idle_since=None)

    response = admin_client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["queue"]["ok"] is True


def test_the_alert_names_the_idle_workers(case):
    execution_for(case)
    idle_worker()
    (condition,) = alerts_check(now=later(LEASE + 1))
    assert condition.kind == AlertKind.QUEUE_STUCK
    assert "1 worker(s) sat idle" in condition.message
    assert condition.detail["idle_workers"] == 1
    assert condition.detail["waiting"] == 1


def test_metrics_count_the_stuck_executions(case, client, settings):
    settings.IB_METRICS_TOKEN = "scrape"
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer scrape"
    backdate(execution_for(case), LEASE + 5)
    assert "intellibrowse_queue_stuck_executions 0.0" in client.get("/metrics").text
    idle_worker(since=timezone.now() - timedelta(seconds=LEASE + 5))
    assert "intellibrowse_queue_stuck_executions 1.0" in client.get("/metrics").text
