"""Worker-side writes are allowed only to the worker that still holds the attempt it runs.

The scene of every test: worker A claimed attempt 1, froze, the reaper recovered its stale lease,
and attempt 2 now runs (on worker B, or on A itself). A late write from A's attempt 1 is refused
with LeaseLost and writes nothing: no step, no event, no change of status or summary.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from engine import watchdog
from executions.errors import LeaseLost
from executions.models import Execution, ExecutionStatus
from executions.services import claim, people, reaper, worker_writes
from executions.traces import trace_steps
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db

A, B = "host-a:1", "host-b:2"
STEP = {"order": 1, "name": "late", "kind": "wait", "status": "passed", "duration_ms": 1}


def handed_over(case, *, second_worker: str = B, **create) -> Execution:
    """Attempt 1 claimed by A and lost; attempt 2 claimed by `second_worker`."""
    execution = execution_for(case, **create)
    assert claim.execution_claim_next(worker=A).pk == execution.pk
    later = timezone.now() + timedelta(seconds=60)
    assert reaper.execution_recover_lost(execution.pk, now=later) is not None
    claimed = claim.execution_claim_next(worker=second_worker)
    assert (claimed.pk, claimed.attempt_count) == (execution.pk, 2)
    return claimed


def snapshot(execution) -> tuple:
    execution.refresh_from_db()
    attempt = execution.attempts.get(number=2)
    steps = trace_steps(attempt.trace) if hasattr(attempt, "trace") else []
    return (
        execution.status,
        execution.worker,
        execution.event_seq,
        execution.summary,
        execution.events.count(),
        steps,
        attempt.outcome,
    )


@pytest.fixture
def case(project):
    return TestCaseFactory(project=project)


@pytest.fixture(params=["another worker", "the same worker"])
def taken(request, case):
    """Attempt 2 runs on another worker, or on the very worker that lost attempt 1."""
    return handed_over(case, second_worker=B if request.param == "another worker" else A)


def test_a_late_step_of_a_lost_attempt_is_refused(taken):
    before = snapshot(taken)

    with pytest.raises(LeaseLost):
        worker_writes.execution_record_step(taken.pk, STEP, worker=A, attempt=1)

    assert snapshot(taken) == before


def test_a_late_finish_of_a_lost_attempt_is_refused_with_its_last_step(taken):
    before = snapshot(taken)

    with pytest.raises(LeaseLost):
        worker_writes.execution_complete(
            taken.pk, outcome=S.FAILED, reason="late", worker=A, attempt=1, last_step=STEP
        )

    assert snapshot(taken) == before


def test_a_late_time_out_of_a_lost_attempt_is_refused(taken):
    before = snapshot(taken)

    with pytest.raises(LeaseLost):
        reaper.execution_time_out(taken.pk, reason="execution timeout reached", worker=A, attempt=1)

    assert snapshot(taken) == before


def test_a_late_cancel_confirmation_of_a_lost_attempt_is_refused(taken):
    people.execution_cancel(taken.pk, reason="stop")  # attempt 2's worker must confirm
    before = snapshot(taken)
    assert before[0] == S.CANCELLING

    with pytest.raises(LeaseLost):
        worker_writes.execution_confirm_cancel(taken.pk, worker=A, attempt=1)

    assert snapshot(taken) == before


def test_a_late_hand_over_to_people_of_a_lost_attempt_is_refused(taken):
    before = snapshot(taken)

    with pytest.raises(LeaseLost):
        worker_writes.execution_await_input(taken.pk, worker=A, attempt=1)

    assert snapshot(taken) == before


def test_a_late_step_total_of_a_lost_attempt_is_refused(taken):
    before = snapshot(taken)

    with pytest.raises(LeaseLost):
        worker_writes.execution_set_total_steps(taken.pk, 99, worker=A, attempt=1)

    assert snapshot(taken) == before


def test_a_late_heartbeat_of_a_lost_attempt_does_not_renew_the_new_lease(taken):
    Execution.objects.filter(pk=taken.pk).update(heartbeat_at=None)

    assert worker_writes.execution_heartbeat(taken.pk, worker=A, attempt=1) is None

    taken.refresh_from_db()
    assert taken.heartbeat_at is None


def test_the_holder_of_the_current_attempt_still_writes(case):
    taken = handed_over(case)

    worker_writes.execution_record_step(taken.pk, STEP, worker=B, attempt=2)
    worker_writes.execution_complete(taken.pk, outcome=S.PASSED, worker=B, attempt=2)

    taken.refresh_from_db()
    assert taken.status == S.PASSED
    assert [s["order"] for s in trace_steps(taken.attempts.get(number=2).trace)] == [1]


def test_a_worker_write_without_its_attempt_is_refused(case):
    execution = execution_for(case)
    claim.execution_claim_next(worker=A)

    with pytest.raises(LeaseLost):
        worker_writes.execution_record_step(execution.pk, STEP, worker=A)


def test_a_refused_write_is_logged(taken, caplog):
    with pytest.raises(LeaseLost):
        worker_writes.execution_record_step(taken.pk, STEP, worker=A, attempt=1)

    assert f"refused step from worker {A} for attempt 1" in caplog.text


# --- the reaper's own time-outs (work with no live owner) ----------------------------------------


def test_the_reaper_times_out_an_overdue_run_whose_worker_is_gone(case, settings):
    execution = execution_for(case, timeout_seconds=1)
    claim.execution_claim_next(worker=A)
    later = timezone.now() + timedelta(seconds=2 + settings.IB_LEASE_SECONDS)
    Execution.objects.filter(pk=execution.pk).update(heartbeat_at=later)  # alive, but overran

    timed_out = reaper.execution_time_out(
        execution.pk, reason="execution timeout reached", now=later
    )

    assert timed_out.status == S.TIMED_OUT


def test_the_reaper_leaves_a_run_that_was_claimed_again_with_a_new_deadline(case, settings):
    """The reaper read attempt 1 as overdue; by the time it locks the row, attempt 2 runs with a
    deadline of its own."""
    taken = handed_over(case, timeout_seconds=600)
    long_after_attempt_1 = timezone.now() + timedelta(seconds=settings.IB_LEASE_SECONDS)
    Execution.objects.filter(pk=taken.pk).update(
        deadline_at=long_after_attempt_1 + timedelta(seconds=10)
    )
    before = snapshot(taken)

    assert (
        reaper.execution_time_out(
            taken.pk, reason="execution timeout reached", now=long_after_attempt_1
        )
        is None
    )

    assert snapshot(taken) == before


def test_a_reaper_pass_does_not_time_out_a_run_within_its_grace(case, settings):
    execution = execution_for(case, timeout_seconds=1)
    claim.execution_claim_next(worker=A)
    just_after_deadline = timezone.now() + timedelta(seconds=1.5)
    Execution.objects.filter(pk=execution.pk).update(heartbeat_at=just_after_deadline)

    assert watchdog.reap_once(now=just_after_deadline)["timed_out"] == 0

    execution.refresh_from_db()
    assert execution.status == S.RUNNING
