"""Suite runs: fan-out, max_parallel, fail-fast, rollup, quarantine, re-run of failed children."""

import pytest

from engine import worker as engine
from executions.models import EventKind, ExecutionStatus
from executions.services import claim, people, worker_writes
from tests.factories import SuiteItemFactory, TestCaseFactory, execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db


def run_all(worker="w"):
    while engine.run_next(worker=worker):
        pass


def test_suite_run_fans_out_one_child_per_runnable_item(project, make_suite):
    a, b, skipped = (TestCaseFactory(project=project) for _ in range(3))
    suite = make_suite(a, b)
    SuiteItemFactory(suite=suite, case=skipped, skip=True)

    parent = execution_for(suite=suite)

    parent.refresh_from_db()
    assert parent.status == S.RUNNING
    assert sorted(parent.children.values_list("test_case_id", flat=True)) == sorted([a.pk, b.pk])
    assert set(parent.children.values_list("status", flat=True)) == {S.QUEUED}


def test_suite_passes_when_every_child_passes(project, make_suite):
    parent = execution_for(suite=make_suite(*(TestCaseFactory(project=project) for _ in range(3))))

    run_all()

    parent.refresh_from_db()
    assert parent.status == S.PASSED
    assert parent.summary["counts"] == {S.PASSED: 3}


def test_suite_fails_when_a_child_fails(project, make_suite, failing_case):
    parent = execution_for(suite=make_suite(TestCaseFactory(project=project), failing_case))

    run_all()

    parent.refresh_from_db()
    assert parent.status == S.FAILED
    assert "1 of 2 cases failed" in parent.status_reason


def test_quarantined_failure_does_not_fail_the_suite(project, make_suite, failing_case):
    failing_case.quarantined = True
    failing_case.save()
    parent = execution_for(suite=make_suite(TestCaseFactory(project=project), failing_case))

    run_all()

    parent.refresh_from_db()
    assert parent.status == S.PASSED
    assert parent.children.get(test_case=failing_case).status == S.FAILED  # still recorded


def test_max_parallel_one_runs_children_one_at_a_time(project, make_suite):
    parent = execution_for(suite=make_suite(*(TestCaseFactory(project=project) for _ in range(2))))

    first = claim.execution_claim_next(worker="w1")
    second = claim.execution_claim_next(worker="w2")

    assert first.parent_id == parent.pk
    assert second is None


def test_max_parallel_two_lets_two_children_run(project, make_suite):
    cases = [TestCaseFactory(project=project) for _ in range(3)]
    execution_for(suite=make_suite(*cases, max_parallel=2))

    claimed = [claim.execution_claim_next(worker=f"w{i}") for i in range(3)]

    assert [c is not None for c in claimed] == [True, True, False]


def test_fail_fast_cancels_remaining_children(project, make_suite, failing_case):
    later = [TestCaseFactory(project=project) for _ in range(2)]
    parent = execution_for(suite=make_suite(failing_case, *later, fail_fast=True))

    run_all()

    parent.refresh_from_db()
    statuses = dict(parent.children.values_list("test_case_id", "status"))
    assert statuses[failing_case.pk] == S.FAILED
    assert {statuses[c.pk] for c in later} == {S.CANCELLED}
    assert parent.status == S.FAILED


def test_cancel_suite_run_cancels_queued_and_stops_running_children(project, make_suite):
    cases = [TestCaseFactory(project=project) for _ in range(3)]
    parent = execution_for(suite=make_suite(*cases, max_parallel=3))
    running = claim.execution_claim_next(worker="w")

    people.execution_cancel(parent.pk)

    parent.refresh_from_db()
    running.refresh_from_db()
    assert parent.status == S.CANCELLING
    assert running.status == S.CANCELLING
    assert parent.children.filter(status=S.CANCELLED).count() == 2

    worker_writes.execution_confirm_cancel(running.pk, worker="w", attempt=1)
    parent.refresh_from_db()
    assert parent.status == S.CANCELLED


def test_a_child_awaiting_input_is_cancelled_at_once_as_a_single_run_is(project, make_suite):
    # Children go through the cancel path of execution_cancel: nobody works on a run that awaits
    # input, so no worker is left to confirm, and the suite run ends with it.
    manual = TestCaseFactory(
        project=project, type="manual", steps=[{"instruction": "look", "expected": "seen"}]
    )
    parent = execution_for(suite=make_suite(manual))
    child = claim.execution_claim_next(worker="w")
    worker_writes.execution_await_input(child.pk, worker="w", attempt=1)

    people.execution_cancel(parent.pk, reason="not today")

    child.refresh_from_db()
    parent.refresh_from_db()
    assert child.status == S.CANCELLED
    assert child.status_reason == "suite run cancelled: not today"
    assert child.attempts.get().outcome == S.CANCELLED
    assert parent.status == S.CANCELLED


def test_suite_rolls_up_exactly_once(project, make_suite):
    parent = execution_for(suite=make_suite(*(TestCaseFactory(project=project) for _ in range(3))))

    run_all()

    finishes = parent.events.filter(kind=EventKind.TRANSITION, from_status=S.RUNNING)
    assert finishes.count() == 1


def test_rerun_failed_only_reruns_only_failed_children(project, make_suite, failing_case):
    passing = TestCaseFactory(project=project)
    parent = execution_for(suite=make_suite(passing, failing_case))
    run_all()

    people.execution_rerun(parent.pk, only_failed=True)

    children = {c.test_case_id: c for c in parent.children.all()}
    assert children[passing.pk].status == S.PASSED
    assert children[passing.pk].attempt_count == 1
    assert children[failing_case.pk].status == S.QUEUED
    assert children[failing_case.pk].attempt_count == 2
    parent.refresh_from_db()
    assert parent.status == S.RUNNING


def test_rerun_failed_only_finishes_with_new_rollup(project, make_suite, failing_case):
    parent = execution_for(suite=make_suite(TestCaseFactory(project=project), failing_case))
    run_all()
    people.execution_rerun(parent.pk, only_failed=True)

    run_all()

    parent.refresh_from_db()
    assert parent.status == S.FAILED
    assert parent.attempt_count == 2


def test_child_rerun_is_refused_while_suite_is_active(project, make_suite):
    parent = execution_for(
        suite=make_suite(TestCaseFactory(project=project), TestCaseFactory(project=project))
    )
    child = claim.execution_claim_next(worker="w")
    engine.run_claimed(child, worker="w")
    child.refresh_from_db()
    assert child.status == S.PASSED

    with pytest.raises(Exception, match="suite run is still active"):
        people.execution_rerun(child.pk)
    parent.refresh_from_db()
    assert parent.status == S.RUNNING


def test_a_busy_suite_does_not_hide_other_work_behind_it(project, make_suite):
    from executions.models import Priority

    many = [TestCaseFactory(project=project) for _ in range(12)]
    execution_for(suite=make_suite(*many, max_parallel=1), priority=Priority.HIGH)
    other = execution_for(TestCaseFactory(project=project), priority=Priority.LOW)

    first = claim.execution_claim_next(worker="w1")
    second = claim.execution_claim_next(worker="w2")

    assert first.parent_id is not None  # the suite's first child, by priority
    assert second.pk == other.pk  # its 11 queued siblings wait; the low one need not
