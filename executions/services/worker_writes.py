"""What a worker writes about the run it holds: the heartbeat, each step, the step total,
awaiting input, the cancel confirmation and the finish.

Every write names the worker and the attempt number it claimed, and is refused with LeaseLost
once that attempt is no longer the worker's (transitions.check_held); the heartbeat checks the
same in its UPDATE's WHERE clause. A person recording a manual step (executions.services.manual)
writes through execution_record_step and execution_complete without a worker.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from executions.errors import InvalidTransition
from executions.models import (
    LEASED,
    Attempt,
    AttemptReason,
    EventKind,
    Execution,
    ExecutionStatus,
)
from executions.services.events import event_record
from executions.services.lifecycle import locked
from executions.services.suites import after_change, confirm_cancel
from executions.services.transitions import (
    UNKNOWN,
    check_held,
    label,
    lock_with_parent,
    transition,
)
from executions.traces import trace_record_step

S = ExecutionStatus


def execution_heartbeat(execution_id: int, *, worker: str, attempt: int) -> str | None:
    """Refresh the lease of attempt number `attempt`. Returns the current status, or None if the
    worker no longer holds that attempt (the reaper re-queued it, maybe to this very worker as a
    new attempt): the worker must then stop. The ownership test is the UPDATE's WHERE clause."""
    now = timezone.now()
    owned = Execution.objects.filter(
        pk=execution_id, worker=worker, attempt_count=attempt, status__in=LEASED
    ).update(heartbeat_at=now)
    if not owned:
        return None
    return Execution.objects.filter(pk=execution_id).values_list("status", flat=True).first()


def execution_record_step(
    execution_id: int,
    step: dict,
    *,
    worker: str = "",
    attempt: int | None = None,
    actor=None,
    attempt_id: int | None = None,
) -> dict:
    """Store one step result in the current attempt's trace, count it, and publish it.

    A worker passes `worker` and its `attempt` number: raises LeaseLost unless it still holds
    that attempt (see transitions.check_held). Anyone else (a person, through
    executions.services.manual) writes into the current attempt; raises InvalidTransition if the
    execution is not active."""
    with transaction.atomic():
        execution = locked(execution_id, with_project=False)
        if worker:
            check_held(execution, worker=worker, attempt=attempt, write="step")
        elif execution.status not in (S.RUNNING, S.CANCELLING, S.AWAITING_INPUT):
            raise InvalidTransition(f"Execution #{execution_id} is {execution.status}.")
        step = _store_step(execution, step, worker=worker, actor=actor, attempt_id=attempt_id)
        execution.save(update_fields=["summary", "event_seq"])
    return step


def _current_attempt(execution: Execution) -> Attempt | None:
    return execution.attempts.order_by("-number").first()


def _store_step(
    execution: Execution, step: dict, *, worker: str, actor=None, attempt_id: int | None
) -> dict:
    """The step into the current attempt's trace, its counts into the summary, and its event;
    the caller holds the execution locked and saves it."""
    if attempt_id is not None:  # the worker knows its attempt: save a query per step
        attempt = Attempt(pk=attempt_id, execution=execution, number=execution.attempt_count)
    else:
        attempt = _current_attempt(execution)
    step = {**step, "attempt": attempt.number}
    trace = trace_record_step(attempt, step)
    execution.summary = {
        **execution.summary,
        "steps_total": execution.summary.get("steps_total", trace.step_count),
        "steps_done": trace.step_count,
        "counts": trace.counts,
    }
    event_record(
        execution,
        kind=EventKind.STEP,
        actor=actor,
        actor_label=label(worker),
        reason=(step.get("error") or {}).get("message", ""),
        data={
            "step": {
                "order": step["order"],
                "name": step.get("name", ""),
                "kind": step.get("kind", ""),
                "status": step["status"],
                "duration_ms": step.get("duration_ms"),
            }
        },
        attempt_number=attempt.number,
    )
    return step


def execution_set_total_steps(
    execution_id: int, total: int, *, worker: str, attempt: int | None
) -> None:
    """Tell progress bars how many steps to expect (known once the runner has parsed the case).
    Raises LeaseLost unless `worker` still holds `attempt`."""
    with transaction.atomic():
        execution = locked(execution_id, with_project=False)
        check_held(execution, worker=worker, attempt=attempt, write="the step total")
        execution.summary = {**execution.summary, "steps_total": total}
        execution.save(update_fields=["summary"])


def execution_await_input(execution_id: int, *, worker: str, attempt: int | None) -> Execution:
    """running -> awaiting_input: a manual run waits for people; the worker lets go. Raises
    LeaseLost unless `worker` still holds `attempt`."""
    with transaction.atomic():
        execution = locked(execution_id)
        check_held(execution, worker=worker, attempt=attempt, write="awaiting input")
        transition(
            execution,
            execution.await_input,
            # The run's own timeout, counted from now: IB_MANUAL_TIMEOUT_SECONDS unless its
            # trigger gave one (`run --timeout 60 --wait` on a manual case ends after a minute).
            {"deadline": timezone.now() + timedelta(seconds=execution.timeout_seconds)},
            actor_label=label(worker),
            reason="manual steps",
        )
    return execution


def execution_complete(
    execution_id: int,
    *,
    outcome: str,
    reason: str = "",
    worker: str = "",
    actor=None,
    error: dict | None = None,
    parent_id=UNKNOWN,
    last_step: dict | None = None,
    attempt_id: int | None = None,
    attempt: int | None = None,
) -> Execution:
    """A run ended with an outcome (passed / failed / error).

    With retries left, a failed or errored attempt is re-queued as a new attempt after the backoff
    instead. A cancel requested meanwhile wins: the execution becomes cancelled. Rolls the suite
    run up when this was its last active child.

    A worker passes what it knows to save work on every finish: `parent_id` (no lookup), and the
    run's `last_step` result (of attempt `attempt_id`), stored here as execution_record_step would,
    in the finishing transaction instead of one of its own.

    A worker passes `worker` and its `attempt` number: raises LeaseLost (and writes nothing, the
    last step included) unless it still holds that attempt.

    A case run that recorded no step cannot pass, whoever reports it: it ends in error (nothing
    was tested), and is not retried (a retry has no more steps)."""
    with transaction.atomic():
        execution = lock_with_parent(execution_id, parent_id)
        if worker:
            check_held(execution, worker=worker, attempt=attempt, write="the finish")
        stored = ()
        if last_step is not None:
            _store_step(execution, last_step, worker=worker, attempt_id=attempt_id)
            stored = ("summary",)
        empty = outcome == S.PASSED and _tested_nothing(execution)
        if empty:
            outcome, reason = S.ERROR, NOTHING_TESTED
            error = {"type": "NoSteps", "message": NOTHING_TESTED}
        now = timezone.now()
        ending = {
            "actor": actor,
            "actor_label": label(worker),
            "reason": reason,
            "attempt_error": error,
            "fields": stored,
        }
        if execution.status == S.CANCELLING:  # a cancel asked for meanwhile wins
            transition(
                execution,
                execution.confirm_cancel,
                {"now": now},
                close_attempt=S.CANCELLED,
                **ending,
            )
        elif (
            outcome != S.PASSED
            and not empty
            and execution.status == S.RUNNING
            and execution.attempt_count <= execution.max_retries
        ):
            backoff = execution.retry_backoff_seconds * 2 ** (execution.attempt_count - 1)
            transition(
                execution,
                execution.requeue,
                {
                    "reason": f"{outcome}: {reason}; retrying",
                    "now": now,
                    "not_before": now + timedelta(seconds=backoff) if backoff else None,
                },
                close_attempt=outcome,
                new_attempt=AttemptReason.RETRY,
                **ending,
            )
        else:
            transition(
                execution,
                execution.finish,
                {"outcome": outcome, "reason": reason, "now": now},
                close_attempt=outcome,
                **ending,
            )
        after_change(execution)
    return execution


NOTHING_TESTED = "No step ran: a case with no steps cannot pass."


def _tested_nothing(execution: Execution) -> bool:
    """A case run with no steps to take, that recorded none: the claim sets the summary's total
    from the case (a BDD runner from its feature) for each attempt, so this costs no query.
    Suite runs pass by their children."""
    summary = execution.summary or {}
    return (
        execution.test_case_id is not None
        and summary.get("steps_total") == 0
        and not summary.get("steps_done")
    )


def execution_confirm_cancel(execution_id: int, *, worker: str, attempt: int | None) -> Execution:
    """The worker stopped a cancelling execution: cancelling -> cancelled. Raises LeaseLost
    unless `worker` still holds `attempt`."""
    with transaction.atomic():
        execution = lock_with_parent(execution_id)
        check_held(execution, worker=worker, attempt=attempt, write="the cancel confirmation")
        if execution.status != S.CANCELLING:
            return execution
        confirm_cancel(execution, actor_label=label(worker))
        after_change(execution)
    return execution
