"""The executions API: wiring, permissions (owner, tester, viewer, stranger, anonymous), shapes."""

import pytest

from engine import worker as engine
from executions.models import Execution, ExecutionStatus, Priority, QueueState
from tests.factories import TestCaseFactory, UserFactory, execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db
URL = "/api/v1/executions/"


def test_tester_starts_a_case_run(member_api, case):
    response = member_api.post(URL, {"test_case": case.pk, "priority": "high"}, format="json")

    assert response.status_code == 201, response.data
    execution = Execution.objects.get(pk=response.data["id"])
    assert execution.status == S.QUEUED
    assert execution.priority == Priority.HIGH
    assert response["Location"].endswith(f"/api/v1/executions/{execution.pk}/")
    detail = member_api.get(response["Location"])
    assert detail.data["attempts"][0]["reason"] == "first"


def test_start_records_labels_parameters_and_trigger(member_api, case):
    body = {
        "test_case": case.pk,
        "parameters": {"base_url": "http://127.0.0.1:9"},
        "environment": "staging",
        "revision": "abc123",
        "branch": "main",
        "labels": {"team": "web"},
        "max_retries": 2,
    }
    response = member_api.post(URL, body, format="json")

    assert response.status_code == 201
    execution = Execution.objects.get(pk=response.data["id"])
    assert execution.parameters == {"base_url": "http://127.0.0.1:9"}
    assert (execution.environment, execution.revision, execution.branch) == (
        "staging",
        "abc123",
        "main",
    )
    assert execution.labels == {"team": "web"}
    assert execution.max_retries == 2


def test_start_a_suite_run_fans_out(member_api, make_suite, project):
    suite = make_suite(TestCaseFactory(project=project), TestCaseFactory(project=project))

    response = member_api.post(URL, {"test_suite": suite.pk}, format="json")

    assert response.status_code == 201
    assert response.data["status"] == S.RUNNING
    detail = member_api.get(response["Location"])
    assert len(detail.data["children"]) == 2


def test_viewer_cannot_start_runs(viewer_api, case):
    response = viewer_api.post(URL, {"test_case": case.pk}, format="json")

    assert response.status_code == 403
    assert response.data["code"] == "permission_denied"
    assert not Execution.objects.exists()


def test_stranger_cannot_start_runs_of_another_project(stranger_api, case):
    response = stranger_api.post(URL, {"test_case": case.pk}, format="json")

    assert response.status_code == 404
    assert "does not exist" in response.data["message"]
    assert not Execution.objects.exists()


def test_anonymous_gets_401(anon_api, case):
    assert anon_api.post(URL, {"test_case": case.pk}, format="json").status_code == 401
    assert anon_api.get(URL).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"priority": "urgent"}, "priority"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"labels": ["a"]}, "labels"),
        ({"parameters": "x"}, "parameters"),
        ({"not_before": "tomorrow"}, "not_before"),
        ({"max_retries": 99}, "max_retries"),
    ],
)
def test_bad_input_is_a_clear_400_and_creates_nothing(member_api, case, body, field):
    payload = {"test_case": case.pk, **body} if body else {}

    response = member_api.post(URL, payload, format="json")

    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert field in response.data["detail"]
    assert response.data["message"]
    assert not Execution.objects.exists()


def test_case_and_suite_together_are_refused(member_api, case, make_suite):
    response = member_api.post(
        URL, {"test_case": case.pk, "test_suite": make_suite(case).pk}, format="json"
    )
    assert response.status_code == 400
    assert "exactly one" in response.data["message"]


def test_list_shows_only_visible_projects(member_api, case, other_project):
    mine = execution_for(case)
    execution_for(TestCaseFactory(project=other_project))

    response = member_api.get(URL)

    assert [row["id"] for row in response.data["results"]] == [mine.pk]


def test_list_filters_by_status_and_label(member_api, case, failing_case):
    passed = execution_for(case, labels={"env": "staging"})
    engine.run_next(worker="w")
    execution_for(failing_case, labels={"env": "prod"})

    by_status = member_api.get(URL, {"status": "passed"})
    by_label = member_api.get(URL, {"label": "env:staging"})

    assert [r["id"] for r in by_status.data["results"]] == [passed.pk]
    assert [r["id"] for r in by_label.data["results"]] == [passed.pk]


def test_bad_label_filter_is_a_400(member_api):
    response = member_api.get(URL, {"label": "env=staging"})
    assert response.status_code == 400


def test_a_label_key_with_double_underscores_is_a_key_not_a_lookup(member_api, case):
    execution_for(case, labels={"env": "staging"})

    response = member_api.get(URL, {"label": "env__contains:s"})

    assert response.status_code == 200
    assert response.data["results"] == []


def test_stranger_gets_404_for_another_projects_execution(stranger_api, case):
    execution = execution_for(case)

    assert stranger_api.get(f"{URL}{execution.pk}/").status_code == 404
    assert stranger_api.post(f"{URL}{execution.pk}/cancel/").status_code == 404


def test_viewer_reads_but_cannot_cancel(viewer_api, case):
    execution = execution_for(case)

    assert viewer_api.get(f"{URL}{execution.pk}/").status_code == 200
    assert viewer_api.post(f"{URL}{execution.pk}/cancel/").status_code == 403
    execution.refresh_from_db()
    assert execution.status == S.QUEUED


def test_cancel_queued_execution(member_api, case):
    execution = execution_for(case)

    response = member_api.post(
        f"{URL}{execution.pk}/cancel/", {"reason": "wrong build"}, format="json"
    )

    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.status == S.CANCELLED
    assert execution.status_reason == "wrong build"


def test_cancel_finished_execution_is_409(member_api, case):
    execution = execution_for(case)
    engine.run_next(worker="w")

    response = member_api.post(f"{URL}{execution.pk}/cancel/")

    assert response.status_code == 409
    assert response.data["code"] == "transition_not_allowed"


def test_rerun_finished_execution(member_api, case):
    execution = execution_for(case)
    engine.run_next(worker="w")

    response = member_api.post(f"{URL}{execution.pk}/rerun/", {}, format="json")

    assert response.status_code == 200
    assert response.data["status"] == S.QUEUED
    assert response.data["attempt_count"] == 2


def test_events_after_seq_returns_only_newer(member_api, case):
    execution = execution_for(case)
    engine.run_next(worker="w")

    response = member_api.get(f"{URL}{execution.pk}/events/", {"after": 3})

    seqs = [e["seq"] for e in response.data]
    assert seqs == list(range(4, Execution.objects.get(pk=execution.pk).event_seq + 1))
    assert any(e["kind"] == "step" for e in response.data)


def test_events_with_bad_after_is_400(member_api, case):
    execution = execution_for(case)
    assert member_api.get(f"{URL}{execution.pk}/events/", {"after": "x"}).status_code == 400


def test_status_is_read_only(owner_api, case):
    execution = execution_for(case)
    response = owner_api.patch(f"{URL}{execution.pk}/", {"status": "passed"}, format="json")
    assert response.status_code == 405
    execution.refresh_from_db()
    assert execution.status == S.QUEUED


def test_queue_status_counts_by_priority(member_api, case):
    execution_for(case, priority=Priority.CRITICAL)

    response = member_api.get("/api/v1/queue/")

    assert response.status_code == 200
    assert response.data["queued"] == 1
    assert response.data["queued_by_priority"] == {
        str(Priority.CRITICAL.value): 1
    } or response.data["queued_by_priority"] == {Priority.CRITICAL.value: 1}


def test_queue_status_counts_only_the_users_projects(member_api, case, other_project):
    execution_for(case)
    execution_for(TestCaseFactory(project=other_project))
    execution_for(TestCaseFactory(project=other_project))

    response = member_api.get("/api/v1/queue/")

    assert response.status_code == 200
    assert response.data["queued"] == 1


def test_queue_status_counts_every_project_for_staff(api_for, case, other_project):
    execution_for(case)
    execution_for(TestCaseFactory(project=other_project))

    response = api_for(UserFactory(is_staff=True)).get("/api/v1/queue/")

    assert response.data["queued"] == 2


def test_only_staff_pause_the_queue(member_api, api_for):
    assert member_api.post("/api/v1/queue/pause/").status_code == 403
    staff = api_for(UserFactory(is_staff=True))

    response = staff.post("/api/v1/queue/pause/", {"reason": "db upgrade"}, format="json")

    assert response.status_code == 200
    assert response.data["paused"] is True
    assert QueueState.get().reason == "db upgrade"
    assert staff.post("/api/v1/queue/resume/").data["paused"] is False


def test_list_rows_match_the_serializer_exactly(member_api, case, make_suite, project):
    from executions.serializers.runs import ExecutionSerializer

    execution_for(case, labels={"a": "b"}, revision="r1", parameters={"x": 1})
    engine.run_next(worker="w")
    execution_for(suite=make_suite(TestCaseFactory(project=project)))

    response = member_api.get(URL)

    request = response.wsgi_request
    for row in response.data["results"]:
        execution = Execution.objects.get(pk=row["id"])
        expected = ExecutionSerializer(execution, context={"request": request}).data
        assert row == dict(expected)


@pytest.mark.parametrize("target", ["case", "suite"])
def test_the_start_response_matches_the_serializer_exactly(
    member_api, case, make_suite, project, target
):
    from executions.serializers.runs import ExecutionSerializer

    if target == "case":
        body = {"test_case": case.pk, "labels": {"a": "b"}, "parameters": {"x": 1}}
    else:
        body = {"test_suite": make_suite(TestCaseFactory(project=project)).pk}

    response = member_api.post(URL, body, format="json")

    assert response.status_code == 201
    execution = Execution.objects.get(pk=response.data["id"])
    request = response.wsgi_request
    assert response.data == dict(ExecutionSerializer(execution, context={"request": request}).data)


@pytest.mark.parametrize("query", ["limit=", "after=", "limit=&after="])
def test_events_with_an_empty_number_parameter_is_a_400(member_api, case, query):
    execution = execution_for(case)

    response = member_api.get(f"{URL}{execution.pk}/events/?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_an_event_no_person_caused_has_a_null_actor(member_api, case):
    execution = execution_for(case)  # the `queued` event: created by the factory, not a person

    events = member_api.get(f"{URL}{execution.pk}/events/").json()

    assert events[0]["actor"] is None
