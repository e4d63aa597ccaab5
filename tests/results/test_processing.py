"""Result processing after a finish: one CaseResult per finish, idempotent, history kept."""

from datetime import timedelta

import pytest
from django.db.models import F

from engine import worker as engine
from executions.models import Attempt, AttemptReason, ExecutionStatus
from executions.services import people
from results import processing
from results.models import CaseResult, CaseStats
from results.processing import process_finished_execution, process_pending
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db
S = ExecutionStatus


def test_a_passed_run_becomes_one_result_with_duration_and_queue_wait(x_case, run):
    execution = run(x_case, revision="abc", branch="main", environment="staging")

    result = CaseResult.objects.get()
    assert (result.case, result.execution, result.attempt_number) == (x_case, execution, 1)
    assert (result.outcome, result.retries) == ("passed", 0)
    assert (result.revision, result.branch, result.environment) == ("abc", "main", "staging")
    assert result.duration_ms is not None and result.queue_wait_ms is not None
    assert execution.rolled_up


def test_a_failed_run_keeps_the_reason_as_message(x_case, run):
    run(x_case, x=2)

    result = CaseResult.objects.get()
    assert result.outcome == "failed"
    assert "step 1 'x is 1'" in result.message


def test_processing_twice_records_once(x_case, run):
    execution = run(x_case)

    again = process_finished_execution(execution.pk)

    assert again is None
    assert CaseResult.objects.count() == 1
    assert CaseStats.objects.get(case=x_case).runs == 1


def test_an_unfinished_execution_is_not_processed(x_case):
    execution = execution_for(x_case)

    assert process_finished_execution(execution.pk) is None
    assert not CaseResult.objects.exists()


def test_automatic_retries_fold_into_one_result(project, finish):
    case = TestCaseFactory(project=project)

    execution = finish(case, ["failed", "failed", "passed"])

    result = CaseResult.objects.get()
    assert (result.outcome, result.retries, result.attempt_number) == ("passed", 2, 3)
    assert result.execution == execution


def test_a_rerun_adds_a_second_result(x_case, run):
    execution = run(x_case, x=2)
    people.execution_rerun(execution.pk)
    from engine import worker as engine

    engine.run_next(worker="w")
    process_finished_execution(execution.pk)

    outcomes = list(CaseResult.objects.order_by("id").values_list("attempt_number", "outcome"))
    assert outcomes == [(1, "failed"), (2, "failed")]
    assert execution.attempts.get(number=2).reason == AttemptReason.RERUN


def test_a_suite_run_records_each_child_and_nothing_for_itself(project, x_case, run, make_suite):
    other = TestCaseFactory(project=project)
    suite = make_suite(x_case, other)

    parent = run_suite(suite, run)

    assert parent.status == S.PASSED and parent.rolled_up
    results = CaseResult.objects.order_by("case_id")
    assert {r.case for r in results} == {x_case, other}
    assert all(r.suite_name == suite.name for r in results)


def run_suite(suite, run):
    from engine import worker as engine

    parent = execution_for(suite=suite, parameters={"x": 1})
    while engine.run_next(worker="w") is not None:
        pass
    for child in parent.children.all():
        process_finished_execution(child.pk)
    process_finished_execution(parent.pk)
    parent.refresh_from_db()
    return parent


def test_a_cancelled_run_is_recorded_as_skipped(x_case):
    execution = execution_for(x_case)
    people.execution_cancel(execution.pk)

    process_finished_execution(execution.pk)

    assert CaseResult.objects.get().outcome == "skipped"


def test_the_engine_processes_each_finish_after_commit(x_case, django_capture_on_commit_callbacks):
    from engine import worker as engine

    execution = execution_for(x_case, parameters={"x": 1})
    with django_capture_on_commit_callbacks(execute=True):
        engine.run_next(worker="w")

    assert CaseResult.objects.filter(execution=execution).count() == 1


def test_the_backstop_processes_finishes_that_were_missed(x_case, run):
    execution = run(x_case)
    CaseResult.objects.all().delete()
    type(execution).objects.filter(pk=execution.pk).update(rolled_up=False)

    processed = process_pending(older_than_seconds=0)

    assert processed == 1
    assert CaseResult.objects.filter(execution=execution).exists()


def test_stats_count_outcomes_and_keep_a_window(project, finish, settings):
    settings.IB_FLAKY_WINDOW = 3
    case = TestCaseFactory(project=project)
    for outcome in ["passed", "passed", "failed", "error"]:
        finish(case, [outcome])

    stats = CaseStats.objects.get(case=case)
    assert (stats.runs, stats.passed, stats.failed, stats.errored) == (4, 2, 1, 1)
    assert [e["o"] for e in stats.recent] == ["passed", "failed", "error"]
    assert stats.last_outcome == "error"


def test_the_result_commits_with_the_finish(x_case):
    execution = execution_for(x_case, parameters={"x": 1})

    engine.run_next(worker="w")  # no processing call of its own: the finish records the result

    result = CaseResult.objects.get()
    assert (result.execution_id, result.outcome) == (execution.pk, "passed")
    execution.refresh_from_db()
    assert execution.rolled_up


def test_a_run_that_waited_longer_than_the_columns_hold_is_recorded(x_case):
    """A run delayed (not_before) by 25 days or more waited more milliseconds than the integer
    columns hold: PostgreSQL refused the CaseResult ("integer out of range") on every try, the
    finish and the backstop alike, so the run never reached history."""
    execution = execution_for(x_case, parameters={"x": 1})
    Attempt.objects.filter(execution=execution).update(
        created_at=F("created_at") - timedelta(days=40)
    )

    engine.run_next(worker="w")
    process_finished_execution(execution.pk)

    result = CaseResult.objects.get()
    assert result.execution_id == execution.pk
    assert result.queue_wait_ms == processing.MS_MAX


def test_a_processing_failure_never_undoes_the_finish_and_the_backstop_catches_up(
    x_case, monkeypatch
):
    execution = execution_for(x_case, parameters={"x": 1})

    def broken(execution):
        raise RuntimeError("statistics are broken")

    monkeypatch.setattr(processing, "_record", broken)
    engine.run_next(worker="w")
    monkeypatch.undo()

    execution.refresh_from_db()
    assert execution.status == S.PASSED
    assert not execution.rolled_up
    assert not CaseResult.objects.exists()
    assert process_pending(older_than_seconds=0) == 1
    assert CaseResult.objects.get().execution_id == execution.pk
