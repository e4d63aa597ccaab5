"""Metrics: the figures, the JSON API and the Prometheus endpoint."""

import pytest

from executions.models import Priority
from monitoring.metrics import metrics_snapshot, percentile
from monitoring.workers import worker_seen
from tests.factories import TestCaseFactory, UserFactory, execution_for
from tests.monitoring.conftest import finish


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0


def test_queue_depth_is_counted_by_priority(case):
    execution_for(case, priority=Priority.HIGH)
    execution_for(case, priority=Priority.HIGH)
    execution_for(case, priority=Priority.LOW)
    queue = metrics_snapshot()["queue"]
    assert queue["depth_by_priority"] == {"high": 2, "low": 1}
    assert queue["depth"] == 3
    assert queue["oldest_queued_seconds"] >= 0


def test_last_hour_counts_outcomes_and_failure_rate(case):
    for outcome in ("passed", "passed", "failed", "error"):
        finish(case, outcome)
    hour = metrics_snapshot()["last_hour"]
    assert hour["by_outcome"] == {"passed": 2, "failed": 1, "error": 1}
    assert hour["failure_rate"] == 0.5
    assert hour["duration_p50_seconds"] is not None


def test_failure_rate_is_none_without_runs(db):
    assert metrics_snapshot()["last_hour"]["failure_rate"] is None


def test_snapshot_is_limited_to_the_given_projects(case, other_project):
    execution_for(TestCaseFactory(project=other_project))
    assert metrics_snapshot(project_ids=[case.project_id])["queue"]["depth"] == 0


def test_workers_are_listed_with_liveness(db):
    worker_seen("host-a:10", [])
    workers = metrics_snapshot()["workers"]
    assert workers["alive"] == 1
    assert workers["recent"][0]["worker_id"] == "host-a:10"


def test_a_worker_running_list_hides_other_projects_executions(case, other_project):
    mine = execution_for(case)
    theirs = execution_for(TestCaseFactory(project=other_project))
    worker_seen("host-a:10", [mine.pk, theirs.pk])
    recent = metrics_snapshot(project_ids=[case.project_id])["workers"]["recent"]
    assert recent[0]["running"] == [mine.pk]


# --- the endpoints ----------------------------------------------------------------------------


def test_metrics_api_needs_authentication(anon_api):
    assert anon_api.get("/api/v1/metrics/").status_code == 401


def test_metrics_api_answers_members_for_their_projects(viewer_api, case, other_project):
    execution_for(case)
    execution_for(TestCaseFactory(project=other_project))
    body = viewer_api.get("/api/v1/metrics/").json()
    assert body["queue"]["depth"] == 1
    assert set(body) >= {"queue", "running", "throughput_per_minute", "last_hour", "workers"}


def test_metrics_api_hides_workers_that_run_only_other_projects_work(
    viewer_api, case, other_project
):
    mine = execution_for(case)
    theirs = execution_for(TestCaseFactory(project=other_project))
    worker_seen("host-mine:1", [mine.pk])
    worker_seen("host-theirs:2", [theirs.pk])
    worker_seen("host-idle:3", [])

    workers = viewer_api.get("/api/v1/metrics/").json()["workers"]

    assert [w["worker_id"] for w in workers["recent"]] == ["host-mine:1"]
    assert workers["alive"] == 1


def test_metrics_api_shows_staff_every_project_and_worker(api_for, case, other_project):
    execution_for(case)
    execution_for(TestCaseFactory(project=other_project))
    worker_seen("host-idle:3", [])

    body = api_for(UserFactory(is_staff=True)).get("/api/v1/metrics/").json()

    assert body["queue"]["depth"] == 2
    assert [w["worker_id"] for w in body["workers"]["recent"]] == ["host-idle:3"]


def test_prometheus_metrics_are_open_in_development_without_a_token(client, case, settings):
    settings.DEBUG = True
    execution_for(case, priority=Priority.CRITICAL)
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'intellibrowse_queue_depth{priority="critical"} 1.0' in text
    assert "intellibrowse_workers_alive 0.0" in text


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong", 401), ("Bearer s3cret", 200)],
)
def test_prometheus_metrics_need_the_bearer_token_when_set(client, db, settings, header, status):
    settings.IB_METRICS_TOKEN = "s3cret"
    headers = {"Authorization": header} if header else {}
    assert client.get("/metrics", headers=headers).status_code == status


def test_prometheus_metrics_are_closed_in_production_without_a_token(client, db, settings):
    """An empty token used to mean "open to anyone", in production too."""
    settings.IB_METRICS_TOKEN = ""
    settings.DEBUG = False

    response = client.get("/metrics")

    assert response.status_code == 403
    assert b"IB_METRICS_TOKEN" in response.content
    assert b"intellibrowse_" not in response.content
