"""The execution lifecycle services, one behaviour per test (on SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import CaseStatus
from engine import watchdog
from engine import worker as engine
from executions.errors import InvalidTransition, NotRunnable
from executions.models import AttemptReason, EventKind, ExecutionStatus, Priority, QueueState
from executions.services import claim, create, people, queue, reaper, worker_writes
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db


def transitions_of(execution):
    return list(
        execution.events.filter(kind=EventKind.TRANSITION).values_list("from_status", "to_status")
    )


# --- creating -------------------------------------------------------------------------------


def test_create_queues_with_first_attempt_and_events(case):
    execution = execution_for(case)

    execution.refresh_from_db()
    assert execution.status == S.QUEUED
    assert execution.attempts.get().reason == AttemptReason.FIRST
    assert list(execution.events.values_list("seq", flat=True)) == [1, 2]
    assert transitions_of(execution) == [("", S.QUEUED)]


def test_create_with_future_not_before_is_pending_until_released(case):
    later = timezone.now() + timedelta(minutes=5)
    execution = execution_for(case, not_before=later)
    assert execution.status == S.PENDING

    watchdog.reap_once(now=later + timedelta(seconds=1))

    execution.refresh_from_db()
    assert execution.status == S.QUEUED


def test_create_refuses_deprecated_case(project):
    case = TestCaseFactory(project=project, status=CaseStatus.DEPRECATED)
    with pytest.raises(NotRunnable, match="deprecated"):
        execution_for(case)


def test_create_refuses_case_of_another_project(case, other_project):
    with pytest.raises(NotRunnable, match="another project"):
        create.execution_create(project=other_project, test_case=case)


def test_create_refuses_empty_suite(make_suite):
    with pytest.raises(NotRunnable, match="no runnable items"):
        execution_for(suite=make_suite())


# --- claiming -------------------------------------------------------------------------------


def test_claim_takes_highest_priority_then_oldest(project):
    low = execution_for(TestCaseFactory(project=project), priority=Priority.LOW)
    first_high = execution_for(TestCaseFactory(project=project), priority=Priority.HIGH)
    second_high = execution_for(TestCaseFactory(project=project), priority=Priority.HIGH)

    order = [claim.execution_claim_next(worker="w").pk for _ in range(3)]

    assert order == [first_high.pk, second_high.pk, low.pk]


def test_claim_marks_running_with_lease_and_attempt_start(case):
    execution = execution_for(case)

    claim.execution_claim_next(worker="host:1")

    execution.refresh_from_db()
    assert execution.status == S.RUNNING
    assert execution.worker == "host:1"
    assert execution.heartbeat_at is not None
    assert execution.deadline_at > timezone.now()
    assert execution.attempts.get().started_at is not None


def test_claim_returns_nothing_when_queue_paused(case):
    execution_for(case)
    queue.queue_pause(reason="maintenance")

    assert claim.execution_claim_next(worker="w") is None
    assert QueueState.get().paused


def test_claim_resumes_after_queue_resume(case):
    execution = execution_for(case)
    queue.queue_pause()
    queue.queue_resume()

    assert claim.execution_claim_next(worker="w").pk == execution.pk


def test_claim_honours_project_concurrency_limit(project):
    project.max_concurrency = 1
    project.save()
    execution_for(TestCaseFactory(project=project))
    execution_for(TestCaseFactory(project=project))

    assert claim.execution_claim_next(worker="w1") is not None
    assert claim.execution_claim_next(worker="w2") is None


def test_claim_skips_not_yet_due_retry(failing_case):
    execution = execution_for(failing_case, max_retries=1, retry_backoff_seconds=60)
    engine.run_next(worker="w")

    execution.refresh_from_db()
    assert execution.status == S.QUEUED
    assert claim.execution_claim_next(worker="w") is None


def test_claimed_execution_cannot_be_claimed_again(case):
    execution_for(case)
    assert claim.execution_claim_next(worker="w1") is not None
    assert claim.execution_claim_next(worker="w2") is None


# --- running to an outcome ------------------------------------------------------------------


def test_passing_case_ends_passed_with_trace(case):
    execution = execution_for(case)

    assert engine.run_next(worker="w") == execution.pk

    execution.refresh_from_db()
    assert execution.status == S.PASSED
    assert execution.summary["counts"] == {"passed": 2}
    assert execution.attempts.get().outcome == S.PASSED
    assert transitions_of(execution)[-1] == (S.RUNNING, S.PASSED)


def test_failing_case_ends_failed_naming_the_step(failing_case):
    execution = execution_for(failing_case)

    engine.run_next(worker="w")

    execution.refresh_from_db()
    assert execution.status == S.FAILED
    assert "step 1 'x is 2'" in execution.status_reason
    assert "not set" in execution.status_reason


def test_failed_attempt_is_retried_as_new_attempt(failing_case):
    execution = execution_for(failing_case, max_retries=1, retry_backoff_seconds=0)

    engine.run_next(worker="w")
    execution.refresh_from_db()
    assert execution.status == S.QUEUED
    engine.run_next(worker="w")

    execution.refresh_from_db()
    assert execution.status == S.FAILED
    attempts = list(execution.attempts.values_list("number", "reason", "outcome"))
    assert attempts == [(1, "first", "failed"), (2, "retry", "failed")]
    assert execution.traces.count() == 2  # nothing of the first attempt is lost


def test_runner_crash_ends_in_error_not_hang(project, settings):
    settings.IB_RUNNERS = {"generic": "tests.executions.test_lifecycle.ExplodingRunner"}
    execution = execution_for(TestCaseFactory(project=project))

    engine.run_next(worker="w")

    execution.refresh_from_db()
    assert execution.status == S.ERROR
    assert "RuntimeError: boom" in execution.status_reason
    assert execution.attempts.get().error["type"] == "RuntimeError"


class ExplodingRunner:
    def run(self, ctx, case, recorder):
        raise RuntimeError("boom")


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_queued_is_immediate(case, member):
    execution = execution_for(case)

    people.execution_cancel(execution.pk, actor=member)

    execution.refresh_from_db()
    assert execution.status == S.CANCELLED
    assert execution.events.last().actor == member


def test_cancel_running_waits_for_worker_confirmation(case):
    execution = execution_for(case)
    claim.execution_claim_next(worker="w")

    people.execution_cancel(execution.pk)
    execution.refresh_from_db()
    assert execution.status == S.CANCELLING

    worker_writes.execution_confirm_cancel(execution.pk, worker="w", attempt=1)
    execution.refresh_from_db()
    assert execution.status == S.CANCELLED


def test_cancel_twice_is_harmless(case):
    execution = execution_for(case)
    claim.execution_claim_next(worker="w")
    people.execution_cancel(execution.pk)

    people.execution_cancel(execution.pk)

    execution.refresh_from_db()
    assert execution.status == S.CANCELLING


def test_cancel_finished_execution_is_refused(case):
    execution = execution_for(case)
    engine.run_next(worker="w")

    with pytest.raises(InvalidTransition):
        people.execution_cancel(execution.pk)


def test_complete_after_cancel_request_ends_cancelled(case):
    execution = execution_for(case)
    claim.execution_claim_next(worker="w")
    people.execution_cancel(execution.pk)

    worker_writes.execution_complete(execution.pk, outcome=S.PASSED, worker="w", attempt=1)

    execution.refresh_from_db()
    assert execution.status == S.CANCELLED


# --- timeouts, leases -----------------------------------------------------------------------


def test_time_out_records_reason(case):
    execution = execution_for(case)
    claim.execution_claim_next(worker="w")

    reaper.execution_time_out(
        execution.pk, reason="step 'login' overran its 5 s timeout", worker="w", attempt=1
    )

    execution.refresh_from_db()
    assert execution.status == S.TIMED_OUT
    assert "login" in execution.status_reason


def test_reaper_times_out_overdue_execution_without_live_owner(case, settings):
    execution = execution_for(case, timeout_seconds=1)
    claim.execution_claim_next(worker="w")
    later = timezone.now() + timedelta(seconds=1 + settings.IB_LEASE_SECONDS * 2)

    watchdog.reap_once(now=later)

    execution.refresh_from_db()
    assert execution.status in (S.TIMED_OUT, S.QUEUED)  # stale lease may be recovered first
    assert execution.status != S.RUNNING


def test_stale_lease_is_requeued_as_worker_lost_attempt(case, settings):
    execution = execution_for(case)
    claim.execution_claim_next(worker="dead:1")
    later = timezone.now() + timedelta(seconds=settings.IB_LEASE_SECONDS + 1)

    watchdog.reap_once(now=later)

    execution.refresh_from_db()
    assert execution.status == S.QUEUED
    assert execution.worker == ""
    attempts = list(execution.attempts.values_list("reason", "outcome"))
    assert attempts == [("first", "error"), ("worker_lost", "")]


def test_fresh_lease_is_left_alone(case):
    execution = execution_for(case)
    claim.execution_claim_next(worker="alive:1")

    watchdog.reap_once()

    execution.refresh_from_db()
    assert execution.status == S.RUNNING


def test_worker_lost_too_often_ends_in_error(case, settings):
    execution = execution_for(case)
    for _ in range(reaper.MAX_WORKER_LOST_REQUEUES + 1):
        claim.execution_claim_next(worker="dead:1")
        later = timezone.now() + timedelta(seconds=settings.IB_LEASE_SECONDS + 1)
        reaper.execution_recover_lost(execution.pk, now=later)

    execution.refresh_from_db()
    assert execution.status == S.ERROR
    assert "giving up" in execution.status_reason


def test_heartbeat_of_a_worker_that_lost_the_lease_is_refused(case, settings):
    execution = execution_for(case)
    claim.execution_claim_next(worker="old:1")
    later = timezone.now() + timedelta(seconds=settings.IB_LEASE_SECONDS + 1)
    reaper.execution_recover_lost(execution.pk, now=later)

    assert worker_writes.execution_heartbeat(execution.pk, worker="old:1", attempt=1) is None
    with pytest.raises(InvalidTransition):
        worker_writes.execution_record_step(
            execution.pk, {"order": 1, "status": "passed"}, worker="old:1", attempt=1
        )


# --- re-run ---------------------------------------------------------------------------------


def test_rerun_finished_execution_adds_attempt(case, member):
    execution = execution_for(case)
    engine.run_next(worker="w")

    people.execution_rerun(execution.pk, actor=member)

    execution.refresh_from_db()
    assert execution.status == S.QUEUED
    assert execution.attempts.last().reason == AttemptReason.RERUN
    assert execution.attempts.last().triggered_by == member


def test_rerun_active_execution_is_refused(case):
    execution = execution_for(case)
    with pytest.raises(InvalidTransition):
        people.execution_rerun(execution.pk)


def test_rerun_failed_only_of_passed_case_is_refused(case):
    execution = execution_for(case)
    engine.run_next(worker="w")
    with pytest.raises(InvalidTransition, match="nothing failed"):
        people.execution_rerun(execution.pk, only_failed=True)


# --- event log ------------------------------------------------------------------------------


def test_every_status_change_has_an_event_with_gap_free_seq(failing_case):
    execution = execution_for(failing_case, max_retries=1, retry_backoff_seconds=0)
    engine.run_next(worker="w")
    engine.run_next(worker="w")

    execution.refresh_from_db()
    seqs = list(execution.events.values_list("seq", flat=True))
    assert seqs == list(range(1, execution.event_seq + 1))
    assert transitions_of(execution) == [
        ("", S.QUEUED),
        (S.QUEUED, S.RUNNING),
        (S.RUNNING, S.QUEUED),
        (S.QUEUED, S.RUNNING),
        (S.RUNNING, S.FAILED),
    ]


def test_case_default_parameters_are_merged_under_the_runs_own(project):
    case = TestCaseFactory(project=project, parameters={"base_url": "http://a", "lang": "en"})

    execution = execution_for(case, parameters={"base_url": "http://b"})

    assert execution.parameters == {"base_url": "http://b", "lang": "en"}


def test_suite_parameters_win_over_case_defaults_for_children(project, make_suite):
    case = TestCaseFactory(project=project, parameters={"base_url": "http://case", "x": "1"})
    suite = make_suite(case)
    suite.parameters = {"base_url": "http://suite"}
    suite.save()

    parent = execution_for(suite=suite)

    assert parent.children.get().parameters == {"base_url": "http://suite", "x": "1"}
