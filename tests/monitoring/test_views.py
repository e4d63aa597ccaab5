"""Dashboard pages: who sees what, and that every form goes through the services."""

import pytest
from django.test import Client

from catalog.models import CaseType, Membership, Role
from executions.models import (
    AttemptReason,
    Execution,
    ExecutionStatus,
    Priority,
    QueueState,
    Trigger,
)
from executions.services import claim, people, worker_writes
from executions.traces import trace_steps
from tests.factories import (
    SuiteItemFactory,
    TestCaseFactory,
    TestSuiteFactory,
    UserFactory,
    execution_for,
)
from tests.monitoring.conftest import WORKER, finish

S = ExecutionStatus


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def queued(case):
    return execution_for(case)


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/queue/", "/flaky/", "/executions/1/", "/projects/1/", "/cases/1/"]
)
def test_pages_send_anonymous_users_to_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_login_page_renders_and_logs_in(client, viewer):
    assert b"Log in" in client.get("/accounts/login/").content
    response = client.post(
        "/accounts/login/", {"username": viewer.username, "password": "pw-for-tests-123"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_logout_is_a_post(client, viewer):
    client.force_login(viewer)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "page",
    [
        "/executions/{execution}/",
        "/executions/{execution}/panel/",
        "/executions/{execution}/manual/",
        "/projects/{project}/",
        "/projects/{project}/run/",
        "/cases/{case}/",
        "/?project={project}",
        "/flaky/?project={project}",
    ],
)
def test_strangers_get_404(stranger, queued, page):
    path = page.format(execution=queued.pk, project=queued.project_id, case=queued.test_case_id)
    assert client_for(stranger).get(path).status_code == 404


@pytest.mark.parametrize("path", ["/executions/999999/", "/cases/999999/", "/projects/999999/"])
def test_unknown_ids_are_404(viewer, path):
    assert client_for(viewer).get(path).status_code == 404


def test_non_numeric_ids_are_404(viewer):
    assert client_for(viewer).get("/executions/abc/").status_code == 404


# --- overview ---------------------------------------------------------------------------------


def test_overview_tells_a_user_without_projects_what_to_do(db):
    response = client_for(UserFactory()).get("/")
    assert b"You are not in any project yet" in response.content


def test_overview_lists_running_queued_and_recent(viewer, case):
    done = finish(case, "failed")
    waiting = execution_for(case)
    response = client_for(viewer).get("/")
    body = response.content.decode()
    assert f'data-execution-row="{done.pk}"' in body
    assert f'data-execution-row="{waiting.pk}"' in body
    assert f'data-projects="{case.project_id}"' in body
    assert 'class="trend"' in body


def test_overview_hides_other_projects(viewer, other_project):
    foreign = execution_for(TestCaseFactory(project=other_project))
    body = client_for(viewer).get("/").content.decode()
    assert f'data-execution-row="{foreign.pk}"' not in body


def test_overview_panels_render_alone(viewer, queued):
    response = client_for(viewer).get(f"/overview/panels/?project={queued.project_id}")
    assert response.status_code == 200
    assert b"<html" not in response.content


# --- an execution -----------------------------------------------------------------------------


def test_execution_page_carries_the_resume_point(viewer, queued):
    response = client_for(viewer).get(f"/executions/{queued.pk}/")
    queued.refresh_from_db()
    assert f'data-after="{queued.event_seq}"'.encode() in response.content
    assert b"Waiting for a worker" in response.content


def test_viewer_sees_no_cancel_button_and_cannot_cancel(viewer, queued):
    client = client_for(viewer)
    assert b'data-role="cancel"' not in client.get(f"/executions/{queued.pk}/").content
    assert client.post(f"/executions/{queued.pk}/cancel/").status_code == 403
    assert Execution.objects.get(pk=queued.pk).status == S.QUEUED


def test_tester_cancels_through_the_service(member, queued):
    client = client_for(member)
    assert b'data-role="cancel"' in client.get(f"/executions/{queued.pk}/").content
    response = client.post(f"/executions/{queued.pk}/cancel/", follow=True)
    assert b"Cancel requested." in response.content
    queued.refresh_from_db()
    assert queued.status == S.CANCELLED
    assert queued.events.filter(to_status=S.CANCELLED, actor=member).exists()


def test_cancelling_a_finished_execution_shows_a_message(member, case):
    done = finish(case)
    response = client_for(member).post(f"/executions/{done.pk}/cancel/", follow=True)
    assert response.status_code == 200
    assert b"nothing to cancel" in response.content


def test_cancel_needs_post(member, queued):
    assert client_for(member).get(f"/executions/{queued.pk}/cancel/").status_code == 405


def test_rerun_queues_a_new_attempt(member, case):
    done = finish(case, "failed")
    client_for(member).post(f"/executions/{done.pk}/rerun/")
    done.refresh_from_db()
    assert done.status == S.QUEUED
    assert done.attempts.order_by("-number").first().reason == AttemptReason.RERUN


def test_rerun_of_an_active_execution_shows_a_message(member, queued):
    response = client_for(member).post(f"/executions/{queued.pk}/rerun/", follow=True)
    assert b"not finished" in response.content


def test_suite_run_page_lists_children(viewer, project):
    suite = TestSuiteFactory(project=project)
    SuiteItemFactory(suite=suite)
    SuiteItemFactory(suite=suite)
    parent = execution_for(suite=suite)
    body = client_for(viewer).get(f"/executions/{parent.pk}/").content.decode()
    for child in parent.children.all():
        assert f'data-child="{child.pk}"' in body


def test_forms_are_csrf_protected(member, queued):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(f"/executions/{queued.pk}/cancel/").status_code == 403


def test_staff_get_a_link_to_the_admin(project, queued):
    staff = UserFactory(is_staff=True)
    Membership.objects.create(project=project, user=staff, role=Role.VIEWER)
    body = client_for(staff).get(f"/executions/{queued.pk}/").content.decode()
    assert f'href="/admin/executions/execution/{queued.pk}/change/"' in body


def test_staff_get_a_link_to_a_cases_admin_page(project, case):
    """The catalog's models moved to the catalog app: the case page lost its link to the admin
    (it looked for executions' test case admin, which is no more)."""
    staff = UserFactory(is_staff=True)
    Membership.objects.create(project=project, user=staff, role=Role.VIEWER)
    body = client_for(staff).get(f"/cases/{case.pk}/").content.decode()
    assert f'href="/admin/catalog/testcase/{case.pk}/change/"' in body


def test_others_get_no_admin_link(viewer, queued):
    body = client_for(viewer).get(f"/executions/{queued.pk}/").content.decode()
    assert "/admin/executions/execution/" not in body


# --- starting a run ---------------------------------------------------------------------------


def test_run_form_starts_a_case_through_the_service(member, case):
    response = client_for(member).post(
        f"/projects/{case.project_id}/run/",
        {
            "target": f"case:{case.pk}",
            "priority": Priority.HIGH,
            "parameters": '{"base": "http://127.0.0.1"}',
            "labels": '{"team": "qa"}',
            "environment": "staging",
        },
    )
    execution = Execution.objects.get()
    assert response.status_code == 302
    assert response.url == f"/executions/{execution.pk}/"
    assert execution.trigger == Trigger.USER
    assert execution.triggered_by == member
    assert execution.priority == Priority.HIGH
    assert execution.parameters == {"base": "http://127.0.0.1"}
    assert execution.labels == {"team": "qa"}
    assert execution.environment == "staging"


def test_run_form_starts_a_suite(member, project):
    suite = TestSuiteFactory(project=project)
    SuiteItemFactory(suite=suite)
    client_for(member).post(
        f"/projects/{project.pk}/run/", {"target": f"suite:{suite.pk}", "priority": 50}
    )
    assert Execution.objects.get(parent__isnull=True).test_suite == suite


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("parameters", "{not json", b"Not valid JSON"),
        ("parameters", "[1, 2]", b"Give a JSON object"),
        ("priority", "7", b"Select a valid choice"),
        ("target", "case:999999", b"Select a valid choice"),
    ],
)
def test_run_form_shows_errors_instead_of_failing(member, case, field, value, message):
    data = {"target": f"case:{case.pk}", "priority": 50, field: value}
    response = client_for(member).post(f"/projects/{case.project_id}/run/", data)
    assert response.status_code == 200
    assert message in response.content
    assert not Execution.objects.exists()


def test_run_form_refuses_a_case_of_another_project(member, case, other_project):
    foreign = TestCaseFactory(project=other_project)
    response = client_for(member).post(
        f"/projects/{case.project_id}/run/", {"target": f"case:{foreign.pk}", "priority": 50}
    )
    assert response.status_code == 200
    assert not Execution.objects.exists()


def test_service_refusal_is_a_form_error(member, project):
    empty_suite = TestSuiteFactory(project=project)
    response = client_for(member).post(
        f"/projects/{project.pk}/run/", {"target": f"suite:{empty_suite.pk}", "priority": 50}
    )
    assert response.status_code == 200
    assert b"no runnable items" in response.content


def test_viewers_may_not_start_runs(viewer, case):
    assert client_for(viewer).get(f"/projects/{case.project_id}/run/").status_code == 403


def test_run_page_of_an_empty_project_says_what_to_do(member, project):
    response = client_for(member).get(f"/projects/{project.pk}/run/")
    assert b"no test cases or suites to run yet" in response.content


# --- cases, flaky, manual ---------------------------------------------------------------------


def test_case_page_shows_history(viewer, case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # result processing runs on commit
        done = finish(case, "failed")
    body = client_for(viewer).get(f"/cases/{case.pk}/").content.decode()
    assert 'class="sparkline"' in body
    assert f"/executions/{done.pk}/" in body


def test_case_page_without_runs_says_so(viewer, case):
    assert b"has not run yet" in client_for(viewer).get(f"/cases/{case.pk}/").content


def test_maintainer_quarantines_and_releases_a_case(owner, case):
    client = client_for(owner)
    client.post(f"/cases/{case.pk}/quarantine/", {"quarantined": "on", "reason": "flaky login"})
    case.refresh_from_db()
    assert case.quarantined
    assert case.health_events.get().reason == "flaky login"
    client.post(f"/cases/{case.pk}/quarantine/", {"quarantined": ""})
    case.refresh_from_db()
    assert not case.quarantined


def test_testers_may_not_quarantine(member, case):
    response = client_for(member).post(f"/cases/{case.pk}/quarantine/", {"quarantined": "on"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert not case.quarantined


def test_flaky_page_lists_flaky_cases(viewer, case):
    from results.models import CaseStats

    CaseStats.objects.create(
        case=case, project=case.project, is_flaky=True, flaky_score=0.7, flaky_reason="flips"
    )
    body = client_for(viewer).get("/flaky/").content.decode()
    assert case.key in body
    assert "flips" in body


def test_flaky_page_empty_state(viewer):
    assert b"No flaky tests found" in client_for(viewer).get("/flaky/").content


def test_manual_page_of_an_automated_case_goes_back_to_the_execution(viewer, queued):
    response = client_for(viewer).get(f"/executions/{queued.pk}/manual/")
    assert response.status_code == 302
    assert response.url == f"/executions/{queued.pk}/"


@pytest.fixture
def awaiting_manual(project):
    """A manual run the worker has handed to people (running -> awaiting_input)."""
    manual = TestCaseFactory(
        project=project,
        type=CaseType.MANUAL,
        steps=[
            {"name": "open", "instruction": "Open the app", "expected": "It opens"},
            {"name": "log in", "instruction": "Log in", "expected": "Welcome page"},
        ],
    )
    execution = execution_for(manual)
    claimed = claim.execution_claim_next(worker=WORKER)
    return worker_writes.execution_await_input(
        execution.pk, worker=WORKER, attempt=claimed.attempt_count
    )


def test_manual_page_lists_the_steps_with_forms(member, awaiting_manual):
    body = client_for(member).get(f"/executions/{awaiting_manual.pk}/manual/").content.decode()
    assert "Open the app" in body
    assert body.count('name="status"') == 2


def test_viewers_watch_manual_runs_without_forms(viewer, awaiting_manual):
    body = client_for(viewer).get(f"/executions/{awaiting_manual.pk}/manual/").content.decode()
    assert 'name="status"' not in body
    assert client_for(viewer).post(f"/executions/{awaiting_manual.pk}/manual/").status_code == 403


def test_recording_every_step_completes_the_run(member, awaiting_manual):
    client = client_for(member)
    page = f"/executions/{awaiting_manual.pk}/manual/"
    response = client.post(
        page, {"order": 1, "attempt": 1, "status": "passed", "actual": "opened"}, follow=True
    )
    assert b"Step 1 recorded." in response.content
    client.post(page, {"order": 2, "attempt": 1, "status": "failed", "note": "no welcome page"})
    awaiting_manual.refresh_from_db()
    assert awaiting_manual.status == S.FAILED


def test_manual_forms_carry_the_attempt_they_were_shown_for(member, awaiting_manual):
    body = client_for(member).get(f"/executions/{awaiting_manual.pk}/manual/").content.decode()
    assert body.count('name="attempt" value="1"') == 2


def test_a_form_left_open_across_a_rerun_does_not_record_into_the_new_attempt(
    member, awaiting_manual
):
    client = client_for(member)
    page = f"/executions/{awaiting_manual.pk}/manual/"
    client.post(page, {"order": 1, "attempt": 1, "status": "passed"})
    client.post(page, {"order": 2, "attempt": 1, "status": "passed"})
    people.execution_rerun(awaiting_manual.pk, actor=member)
    claimed = claim.execution_claim_next(worker=WORKER)
    worker_writes.execution_await_input(claimed.pk, worker=WORKER, attempt=2)

    response = client.post(page, {"order": 1, "attempt": 1, "status": "failed"}, follow=True)

    assert b"reload the page" in response.content
    attempt = awaiting_manual.attempts.get(number=2)
    assert not hasattr(attempt, "trace") or trace_steps(attempt.trace) == []


def test_recording_a_step_that_does_not_exist_shows_the_error(member, awaiting_manual):
    page = f"/executions/{awaiting_manual.pk}/manual/"
    response = client_for(member).post(
        page, {"order": 9, "attempt": 1, "status": "passed"}, follow=True
    )
    assert response.status_code == 200
    assert b"there is no step 9" in response.content


def test_manual_form_errors_are_shown(member, awaiting_manual):
    page = f"/executions/{awaiting_manual.pk}/manual/"
    response = client_for(member).post(page, {"order": 1, "status": "maybe"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content


# --- queue and workers ------------------------------------------------------------------------


def test_queue_page_renders_for_members(viewer, queued):
    body = client_for(viewer).get("/queue/").content.decode()
    assert f'data-execution-row="{queued.pk}"' in body
    assert "Pause the queue" not in body


def test_queue_page_hides_workers_that_run_only_other_projects_work(viewer, queued, other_project):
    from monitoring.workers import worker_seen

    theirs = execution_for(TestCaseFactory(project=other_project))
    worker_seen("host-theirs:2", [theirs.pk])

    body = client_for(viewer).get("/queue/").content.decode()

    assert "host-theirs" not in body


def test_overview_keeps_cross_project_alert_figures_for_staff(project, viewer, other_project):
    failing_case = TestCaseFactory(project=other_project)
    for _ in range(11):  # more than FAILURE_MIN_RUNS, all failing: the failure-rate alert holds
        finish(failing_case, "failed")
    headline = "runs finished in the last hour failed"

    assert headline not in client_for(viewer).get("/").content.decode()
    operator = UserFactory(is_staff=True)
    Membership.objects.create(project=project, user=operator, role=Role.VIEWER)
    assert headline in client_for(operator).get("/").content.decode()


def test_staff_pause_and_resume_the_queue(db):
    operator = UserFactory(is_staff=True)
    client = client_for(operator)
    assert b"Pause the queue" in client.get("/queue/").content
    client.post("/queue/pause/", {"reason": "deploy"})
    state = QueueState.get()
    assert state.paused and state.reason == "deploy" and state.changed_by == operator
    client.post("/queue/resume/")
    assert not QueueState.get().paused


def test_project_maintainers_may_not_pause_everyones_queue(owner):
    assert b"Pause the queue" not in client_for(owner).get("/queue/").content
    assert client_for(owner).post("/queue/pause/").status_code == 403
    assert not QueueState.get().paused


def test_testers_may_not_pause_the_queue(member, db):
    assert client_for(member).post("/queue/pause/").status_code == 403
    assert not QueueState.get().paused


@pytest.mark.parametrize("path", ["/?project=999999", "/flaky/?project=999999"])
def test_unknown_project_filter_is_404_even_for_superusers(db, path):
    admin = UserFactory(is_superuser=True, is_staff=True)
    assert client_for(admin).get(path).status_code == 404
