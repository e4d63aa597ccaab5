"""Reported runs (issue 16): a CI job opens a run, appends batches (idempotent per batch id),
heartbeats and closes it; a run whose client goes silent past its lease is interrupted by the
reaper, keeping what arrived. Through the API, with permissions, and through the real reaper."""

from datetime import timedelta

import pytest

from engine import watchdog
from executions.models import EventKind, Execution, ExecutionStatus, ReportedBatch
from executions.traces import trace_of, trace_steps
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/reported-runs/"
S = ExecutionStatus


def results(*outcomes):
    return [
        {"classname": "tests.test_cart", "name": f"test_{i}", "outcome": o, "duration_ms": 7}
        for i, o in enumerate(outcomes)
    ]


@pytest.fixture
def open_run(project, member_api):
    def open_it(**fields):
        body = {"project": project.pk, "name": "pytest", "revision": "abc", **fields}
        response = member_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return open_it


def send(api, run_id, batch_id, rows):
    return api.post(
        f"{URL}{run_id}/batches/", {"batch_id": batch_id, "results": rows}, format="json"
    )


def test_opening_answers_the_id_and_the_dashboard_url(open_run, project):
    run = open_run(ci_url="https://ci.example.com/job/7", lease_seconds=30)

    assert run["status"] == "running"
    assert run["dashboard_url"] == f"http://testserver/executions/{run['id']}/"
    assert run["suite"] == "pytest" and run["lease_seconds"] == 30
    assert run["labels"] == {"ci_url": "https://ci.example.com/job/7"}
    execution = Execution.objects.get(pk=run["id"])
    assert execution.trigger == "reported" and execution.project == project
    assert execution.events.filter(kind=EventKind.TRANSITION, to_status="running").exists()


def test_a_batch_becomes_steps_and_events_and_renews_the_lease(open_run, member_api):
    run = open_run()
    execution = Execution.objects.get(pk=run["id"])
    before = execution.heartbeat_at

    response = send(member_api, run["id"], "b1", results("passed", "failed", "skipped"))

    assert response.status_code == 201
    assert response.json() == {
        "stored": 3,
        "duplicate": False,
        "status": "running",
        "replaced_characters": 0,
    }
    execution.refresh_from_db()
    steps = trace_steps(trace_of(execution))
    assert [(s["order"], s["name"], s["status"]) for s in steps] == [
        (1, "tests.test_cart.test_0", "passed"),
        (2, "tests.test_cart.test_1", "failed"),
        (3, "tests.test_cart.test_2", "skipped"),
    ]
    assert execution.summary["counts"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert execution.events.filter(kind=EventKind.STEP).count() == 3
    assert execution.heartbeat_at > before


def test_a_retried_batch_is_stored_once(open_run, member_api):
    run = open_run()
    rows = results("passed", "passed")

    first = send(member_api, run["id"], "b1", rows)
    again = send(member_api, run["id"], "b1", rows)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert len(trace_steps(trace_of(Execution.objects.get(pk=run["id"])))) == 2
    assert ReportedBatch.objects.count() == 1


def test_a_batch_id_reused_with_other_results_is_a_409_saying_why(open_run, member_api):
    run = open_run()
    send(member_api, run["id"], "b1", results("passed"))

    response = send(member_api, run["id"], "b1", results("failed"))

    assert response.status_code == 409
    assert response.json()["code"] == "batch_conflict"
    assert "sent before with other results" in response.json()["message"]
    steps = trace_steps(trace_of(Execution.objects.get(pk=run["id"])))
    assert [s["status"] for s in steps] == ["passed"]


def test_batches_append_in_order_across_calls(open_run, member_api):
    run = open_run()
    send(member_api, run["id"], "b1", results("passed"))
    send(member_api, run["id"], "b2", results("error", "passed"))

    steps = trace_steps(trace_of(Execution.objects.get(pk=run["id"])))

    assert [s["order"] for s in steps] == [1, 2, 3]


def test_closing_fails_the_run_when_a_result_failed(open_run, member_api):
    run = open_run()
    send(member_api, run["id"], "b1", results("passed", "error"))

    response = member_api.post(f"{URL}{run['id']}/close/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["lease_expires_at"] is None


def test_a_closed_run_takes_no_more_results(open_run, member_api):
    run = open_run()
    member_api.post(f"{URL}{run['id']}/close/", {}, format="json")

    late = send(member_api, run["id"], "b9", results("passed"))
    beat = member_api.post(f"{URL}{run['id']}/heartbeat/")

    assert (late.status_code, beat.status_code) == (409, 409)
    assert "takes no more results" in late.json()["message"]


def test_heartbeat_renews_the_lease(open_run, member_api):
    run = open_run(lease_seconds=10)
    Execution.objects.filter(pk=run["id"]).update(heartbeat_at=None)

    response = member_api.post(f"{URL}{run['id']}/heartbeat/")

    assert response.status_code == 200
    assert response.json()["lease_expires_at"] is not None


# --- the lease and the reaper ---------------------------------------------------------------------


def test_the_reaper_interrupts_a_run_silent_past_its_lease_keeping_its_results(
    open_run, member_api
):
    run = open_run(lease_seconds=30)
    send(member_api, run["id"], "b1", results("passed", "failed"))
    execution = Execution.objects.get(pk=run["id"])

    within = watchdog.reap_once(now=execution.heartbeat_at + timedelta(seconds=29))
    past = watchdog.reap_once(now=execution.heartbeat_at + timedelta(seconds=31))

    assert (within["interrupted"], past["interrupted"]) == (0, 1)
    execution.refresh_from_db()
    assert execution.status == S.INTERRUPTED
    assert "sent nothing for longer than its lease (30 s)" in execution.status_reason
    assert execution.attempts.get().outcome == S.INTERRUPTED
    last = execution.events.order_by("-seq").first()
    assert (last.kind, last.to_status, last.actor_label) == ("transition", "interrupted", "reaper")
    assert len(trace_steps(trace_of(execution))) == 2  # what arrived is kept


def test_an_interrupted_run_refuses_late_batches(open_run, member_api):
    run = open_run(lease_seconds=5)
    execution = Execution.objects.get(pk=run["id"])
    watchdog.reap_once(now=execution.heartbeat_at + timedelta(seconds=6))

    late = send(member_api, run["id"], "b1", results("passed"))

    assert late.status_code == 409
    assert late.json()["detail"]["status"] == "interrupted"


def test_the_engine_never_requeues_a_reported_run(open_run):
    run = open_run(lease_seconds=3600)
    execution = Execution.objects.get(pk=run["id"])

    done = watchdog.reap_once(now=execution.heartbeat_at + timedelta(seconds=600))

    assert done["recovered"] == 0
    execution.refresh_from_db()
    assert execution.status == S.RUNNING and execution.attempt_count == 1


# --- permissions and bad input ----------------------------------------------------------------------


def test_opening_needs_the_tester_role_in_that_project(project, viewer_api, stranger_api, anon_api):
    body = {"project": project.pk, "name": "pytest"}

    assert viewer_api.post(URL, body, format="json").status_code == 403
    assert stranger_api.post(URL, body, format="json").status_code == 404
    assert anon_api.post(URL, body, format="json").status_code == 401


def test_another_projects_token_cannot_touch_the_run(open_run, stranger_api, viewer_api):
    run = open_run()

    for client, code in ((stranger_api, 404), (viewer_api, 403)):
        assert send(client, run["id"], "x", results("passed")).status_code == code
        assert client.post(f"{URL}{run['id']}/heartbeat/").status_code == code
        assert client.post(f"{URL}{run['id']}/close/", {}, format="json").status_code == code
    assert stranger_api.get(f"{URL}{run['id']}/").status_code == 404
    assert viewer_api.get(f"{URL}{run['id']}/").status_code == 200
    assert Execution.objects.get(pk=run["id"]).status == S.RUNNING


def test_an_engine_execution_is_not_a_reported_run(member_api, project):
    execution = execution_for(TestCaseFactory(project=project))

    assert member_api.post(f"{URL}{execution.pk}/heartbeat/").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"batch_id": "b", "results": "nope"},
        {"batch_id": "b", "results": [{"name": "t", "outcome": "exploded"}]},
        {"batch_id": "", "results": []},
        {"results": [{"name": "t", "outcome": "passed"}]},
        {"batch_id": "b", "results": [{"name": "t"}]},
    ],
)
def test_a_bad_batch_is_a_400_and_stores_nothing(open_run, member_api, body):
    run = open_run()

    response = member_api.post(f"{URL}{run['id']}/batches/", body, format="json")

    assert response.status_code == 400
    assert not ReportedBatch.objects.exists()


def test_a_lease_out_of_bounds_is_a_400(project, member_api):
    body = {"project": project.pk, "name": "pytest", "lease_seconds": 1}

    assert member_api.post(URL, body, format="json").status_code == 400


def test_more_labels_than_a_run_may_carry_are_a_400_and_open_nothing(project, member_api):
    """Labels are copied onto every result: an outsider opened a run with 10,000."""
    labels = {f"k{n}": "v" for n in range(51)}
    body = {"project": project.pk, "name": "pytest", "labels": labels}

    response = member_api.post(URL, body, format="json")

    assert response.status_code == 400
    assert "labels" in response.json()["detail"]
    assert not Execution.objects.exists()


def test_cancelling_a_reported_run_closes_it(open_run, member_api):
    run = open_run()
    send(member_api, run["id"], "b1", results("passed"))

    response = member_api.post(f"/api/v1/executions/{run['id']}/cancel/", {}, format="json")

    assert response.status_code == 200, response.content
    execution = Execution.objects.get(pk=run["id"])
    assert execution.status == S.CANCELLED
    assert send(member_api, run["id"], "b2", results("passed")).status_code == 409


def test_a_reported_run_cannot_be_rerun_here(open_run, member_api):
    run = open_run()
    member_api.post(f"{URL}{run['id']}/close/", {}, format="json")

    response = member_api.post(f"/api/v1/executions/{run['id']}/rerun/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "reported_run"


def test_the_dashboard_shows_a_reported_runs_results_and_offers_no_rerun(
    open_run, member_api, member, client
):
    run = open_run()
    send(member_api, run["id"], "b1", results("passed", "failed"))
    member_api.post(f"{URL}{run['id']}/close/", {}, format="json")
    client.force_login(member)

    page = client.get(f"/executions/{run['id']}/").content.decode()

    assert "<h2>Results</h2>" in page and "tests.test_cart.test_1" in page
    assert "2/2 results: 1 passed, 1 failed" in page
    assert "Re-run" not in page


def test_the_run_page_lists_its_labels_as_key_value_pairs(open_run, member_api, member, client):
    run = open_run(labels={"team": "qa"})
    client.force_login(member)

    page = client.get(f"/executions/{run['id']}/").content.decode()

    labels = page.split('data-role="labels"')[1].split("</dd>")[0]
    assert "<code>team:qa</code>" in labels
    assert "{" not in labels  # not a Python dict's repr
