"""Manual runs: the worker hands them to people (awaiting_input); testers record each step through
POST /api/v1/executions/{id}/steps/{order}/result/ until the run completes."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import CaseType
from engine import watchdog
from engine import worker as engine
from executions.errors import StaleAttempt
from executions.models import ExecutionStatus
from executions.services.manual import execution_record_manual_step
from executions.services.people import execution_cancel
from tests.executions.local_site import steps_of
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db

MANUAL_STEPS = [
    {"name": "Log in", "instruction": "Log in as a customer", "expected": "The dashboard shows"},
    {"instruction": "Open the basket", "expected": "The basket is empty", "data": {"user": "c1"}},
    {"instruction": "Log out", "expected": "The login page shows"},
]


@pytest.fixture
def waiting(project):
    """A manual run the worker has handed over to people."""
    case = TestCaseFactory(project=project, type=CaseType.MANUAL, steps=MANUAL_STEPS)
    case.full_clean()
    execution = execution_for(case)
    assert engine.run_next(worker="test-worker") == execution.pk
    execution.refresh_from_db()
    return execution


def url(execution, order) -> str:
    return f"/api/v1/executions/{execution.pk}/steps/{order}/result/"


def record_all(api, execution, statuses):
    for order, status in enumerate(statuses, start=1):
        response = api.post(url(execution, order), {"status": status}, format="json")
        assert response.status_code == 200, response.json()
    execution.refresh_from_db()


def test_the_worker_hands_a_manual_run_to_people(waiting):
    assert waiting.status == S.AWAITING_INPUT
    assert waiting.worker == ""
    assert waiting.summary["steps_total"] == 3
    assert steps_of(waiting) == []


def test_a_run_is_driven_through_the_api_to_passed(waiting, member_api, member):
    first = member_api.post(
        url(waiting, 1),
        {"status": "passed", "actual": "Dashboard shown", "note": "quick"},
        format="json",
    )

    assert first.status_code == 200
    body = first.json()
    assert body["execution_status"] == S.AWAITING_INPUT
    assert body["step"]["order"] == 1
    assert body["step"]["name"] == "Log in"
    assert body["step"]["expected"] == "The dashboard shows"
    assert body["step"]["actual"] == "Dashboard shown"
    assert body["step"]["recorded_by"] == member.username

    record_all(member_api, waiting, ["passed", "skipped", "passed"])

    assert waiting.status == S.PASSED
    assert waiting.status_reason == "3 manual steps recorded, none failed"
    steps = steps_of(waiting)
    assert [(s["order"], s["status"], s["kind"]) for s in steps] == [
        (1, "passed", "manual"),
        (2, "skipped", "manual"),
        (3, "passed", "manual"),
    ]
    assert steps[1]["input"] == {"instruction": "Open the basket", "data": {"user": "c1"}}


def test_a_failed_step_fails_the_run(waiting, member_api):
    member_api.post(
        url(waiting, 2), {"status": "failed", "note": "basket had 2 items"}, format="json"
    )
    record_all(member_api, waiting, ["passed"])  # step 1
    member_api.post(url(waiting, 3), {"status": "passed"}, format="json")
    waiting.refresh_from_db()

    assert waiting.status == S.FAILED
    assert waiting.status_reason == "step 2 failed: basket had 2 items"


def test_a_blocked_step_makes_the_run_an_error(waiting, member_api):
    record_all(member_api, waiting, ["passed", "blocked", "passed"])

    assert waiting.status == S.ERROR
    assert waiting.status_reason.startswith("step 2 blocked")


def test_recording_a_step_again_replaces_it(waiting, member_api):
    member_api.post(url(waiting, 1), {"status": "failed"}, format="json")
    member_api.post(url(waiting, 1), {"status": "passed", "actual": "fine now"}, format="json")

    (only,) = steps_of(waiting)
    assert (only["status"], only["actual"]) == ("passed", "fine now")


def test_an_attachment_is_stored_and_listed_on_the_step(waiting, member_api):
    upload = SimpleUploadedFile("screen shot.png", b"\x89PNG fake image", content_type="image/png")
    response = member_api.post(
        url(waiting, 1), {"status": "failed", "attachment": upload}, format="multipart"
    )

    assert response.status_code == 200, response.json()
    (attachment,) = response.json()["step"]["attachments"]
    assert attachment["name"] == "screen shot.png"
    assert attachment["content_type"] == "image/png"
    assert attachment["size"] == len(b"\x89PNG fake image")
    (stored,) = steps_of(waiting)[0]["attachments"]
    assert stored["path"].startswith(f"attachments/{waiting.pk}/1/")
    with default_storage.open(stored["path"]) as file:
        assert file.read() == b"\x89PNG fake image"


def test_a_too_large_attachment_is_refused_with_413(waiting, member_api, settings):
    settings.IB_ATTACHMENT_MAX_BYTES = 10
    upload = SimpleUploadedFile("big.txt", b"x" * 11, content_type="text/plain")
    response = member_api.post(
        url(waiting, 1), {"status": "passed", "attachment": upload}, format="multipart"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "attachment_too_large"
    assert steps_of(waiting) == []


# --- permissions and bad input --------------------------------------------------------------


def test_a_stranger_gets_404(waiting, stranger_api):
    response = stranger_api.post(url(waiting, 1), {"status": "passed"}, format="json")
    assert response.status_code == 404


def test_a_viewer_gets_403(waiting, viewer_api):
    response = viewer_api.post(url(waiting, 1), {"status": "passed"}, format="json")

    assert response.status_code == 403
    assert steps_of(waiting) == []


def test_anonymous_gets_401(waiting, anon_api):
    assert anon_api.post(url(waiting, 1), {"status": "passed"}, format="json").status_code == 401


def test_the_maintainer_may_record_too(waiting, owner_api):
    assert owner_api.post(url(waiting, 1), {"status": "passed"}, format="json").status_code == 200


@pytest.mark.parametrize("order", [0, 4])
def test_a_step_that_does_not_exist_is_400(waiting, member_api, order):
    response = member_api.post(url(waiting, order), {"status": "passed"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "manual_step_invalid"
    assert "steps 1 to 3" in response.json()["message"]


@pytest.mark.parametrize("status", ["error", "undefined", "", None])
def test_a_status_people_cannot_record_is_400(waiting, member_api, status):
    response = member_api.post(url(waiting, 1), {"status": status}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_finished_run_answers_409(waiting, member_api):
    record_all(member_api, waiting, ["passed", "passed", "passed"])
    response = member_api.post(url(waiting, 1), {"status": "failed"}, format="json")

    assert response.status_code == 409
    assert "not awaiting input" in response.json()["message"]


def test_a_queued_manual_run_answers_409(project, member_api):
    case = TestCaseFactory(project=project, type=CaseType.MANUAL, steps=MANUAL_STEPS)
    execution = execution_for(case)
    assert (
        member_api.post(url(execution, 1), {"status": "passed"}, format="json").status_code == 409
    )


def test_an_automated_run_is_not_recorded_by_hand(project, member_api):
    execution = execution_for(TestCaseFactory(project=project))
    engine.run_next(worker="test-worker")

    response = member_api.post(url(execution, 1), {"status": "passed"}, format="json")
    assert response.status_code == 400
    assert "not a run of a manual case" in response.json()["message"]


def test_a_viewer_is_refused_on_the_dashboard_too(waiting, viewer, client):
    # Who may record is checked where the request comes in (catalog.access), on every way in.
    client.force_login(viewer)
    form = {"order": 1, "attempt": waiting.attempt_count, "status": "passed"}

    response = client.post(f"/executions/{waiting.pk}/manual/", form)

    assert response.status_code == 403
    assert steps_of(waiting) == []


# --- cancel and abandonment -----------------------------------------------------------------


def test_a_cancelled_manual_run_takes_no_more_results(waiting, member_api, member):
    execution_cancel(waiting.pk, actor=member)
    waiting.refresh_from_db()

    assert waiting.status == S.CANCELLED
    assert member_api.post(url(waiting, 1), {"status": "passed"}, format="json").status_code == 409


def test_an_abandoned_manual_run_times_out(waiting, member_api, settings):
    member_api.post(url(waiting, 1), {"status": "passed"}, format="json")
    waiting.refresh_from_db()
    assert waiting.deadline_at - waiting.started_at >= timedelta(
        seconds=settings.IB_MANUAL_TIMEOUT_SECONDS - 5
    )

    watchdog.reap_once(now=waiting.deadline_at - timedelta(seconds=1))
    waiting.refresh_from_db()
    assert waiting.status == S.AWAITING_INPUT

    watchdog.reap_once(now=waiting.deadline_at + timedelta(seconds=1))
    waiting.refresh_from_db()
    assert waiting.status == S.TIMED_OUT
    assert member_api.post(url(waiting, 2), {"status": "passed"}, format="json").status_code == 409


# --- a result meant for an earlier attempt ---------------------------------------------------------


@pytest.fixture
def rerun_waiting(waiting, member_api, member):
    """Attempt 1 recorded to the end, then re-run: attempt 2 waits for people."""
    from executions.services.people import execution_rerun

    record_all(member_api, waiting, ["passed", "passed", "passed"])
    execution_rerun(waiting.pk, actor=member)
    assert engine.run_next(worker="test-worker") == waiting.pk
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempt_count) == (S.AWAITING_INPUT, 2)
    return waiting


def test_a_result_for_an_earlier_attempt_is_refused_with_409(rerun_waiting, member_api):
    response = member_api.post(
        url(rerun_waiting, 1), {"status": "failed", "attempt": 1}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "stale_attempt"
    assert response.json()["detail"] == {"attempt": 1, "current_attempt": 2}
    assert steps_of(rerun_waiting) == []  # nothing landed in attempt 2


def test_a_result_for_the_current_attempt_is_recorded(rerun_waiting, member_api):
    response = member_api.post(
        url(rerun_waiting, 1), {"status": "passed", "attempt": 2}, format="json"
    )

    assert response.status_code == 200
    assert [s["order"] for s in steps_of(rerun_waiting)] == [1]


def test_a_stale_attempts_attachment_is_not_kept(rerun_waiting, member_api, member):
    upload = SimpleUploadedFile("shot.png", b"png", content_type="image/png")

    with pytest.raises(StaleAttempt):
        execution_record_manual_step(
            rerun_waiting.pk, 1, status="failed", attachment=upload, attempt=1, actor=member
        )

    assert not default_storage.exists(f"attachments/{rerun_waiting.pk}")
