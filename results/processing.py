"""Result processing on every finish of an execution (called by the lifecycle services inside the
finishing transaction, in a savepoint of its own; the backstop catches any that failed).

Suite rollups are the engine's (executions.services.lifecycle); here a finished case execution
becomes one CaseResult (outcome, duration, queue wait, retries) and its case's history and flaky
verdict move on. Idempotent: the broker, the backstop task and a person may all process the same
finish; the execution's `rolled_up` mark, read under its row lock, makes the second a no-op.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from executions.models import (
    TERMINAL,
    Attempt,
    AttemptReason,
    Execution,
    ExecutionStatus,
)
from executions.traces import trace_of, trace_steps
from results.history import Entry, history_record
from results.models import CaseOutcome, CaseResult

log = logging.getLogger(__name__)
S = ExecutionStatus

OUTCOME_OF = {
    S.PASSED: CaseOutcome.PASSED,
    S.FAILED: CaseOutcome.FAILED,
    S.TIMED_OUT: CaseOutcome.FAILED,  # as the suite rollup counts it
    S.ERROR: CaseOutcome.ERROR,
    S.CANCELLED: CaseOutcome.SKIPPED,  # says nothing about the test: neutral for flakiness
}
FAILING = (S.FAILED, S.ERROR, S.TIMED_OUT)
# Attempts that continue the same run: the try before them belongs to the same finish.
CONTINUING = (AttemptReason.RETRY, AttemptReason.WORKER_LOST)
MAX_MESSAGE_CHARS = 2000
# The most the duration and queue-wait columns (PositiveIntegerField) hold: some 24.8 days.
MS_MAX = 2**31 - 1


def process_finished_execution(execution_id: int) -> CaseResult | None:
    """Record the finish of a case execution as a CaseResult and update the case's history.

    A suite run (parent) has nothing of its own to record: its children are processed as they
    finish. Returns the new CaseResult, or None when there was nothing (left) to do: not
    finished, a suite run, or already processed. Marks the execution `rolled_up`.
    """
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(of=("self",))
            .select_related("parent__test_suite")
            .filter(pk=execution_id)
            .first()
        )
        if execution is None:
            return None
        result = record_finish(execution)
        if execution.rolled_up:
            execution.save(update_fields=["rolled_up"])
        return result


def on_execution_finishing(sender, *, execution: Execution, **kwargs) -> None:
    """Receiver of executions.signals.execution_finishing (connected in results.apps)."""
    record_finish(execution)


def record_finish(execution: Execution) -> CaseResult | None:
    """Record the finish of an execution the caller holds locked, and set its `rolled_up` in
    memory: the caller writes the row (the lifecycle services with the finish itself, in one
    UPDATE). Does nothing for an execution that is not finished or already rolled up.

    `rolled_up` is the "already processed" mark: it is written in the transaction that records the
    result and cleared by a re-run, so under the row lock it says whether this finish has its
    CaseResult. The (execution, attempt) unique key stands behind it."""
    if execution.status not in TERMINAL or execution.rolled_up:
        return None
    result = _record(execution) if execution.test_case_id is not None else None
    execution.rolled_up = True
    return result


def _record(execution: Execution) -> CaseResult:
    attempts = list(execution.attempts.order_by("number"))
    final = attempts[-1]
    run = attempts_of_this_run(attempts)
    error = final.error or _step_error(execution, final.number)
    result = CaseResult.objects.create(
        project_id=execution.project_id,
        case_id=execution.test_case_id,
        execution=execution,
        attempt_number=final.number,
        suite_name=execution.parent.test_suite.name if execution.parent_id else "",
        outcome=OUTCOME_OF[execution.status],
        retries=sum(1 for a in run[:-1] if a.outcome in FAILING and not worker_lost(a)),
        duration_ms=_ms(final.started_at, final.finished_at or execution.finished_at),
        queue_wait_ms=_ms(run[0].created_at, run[0].started_at),
        revision=execution.revision,
        branch=execution.branch,
        environment=execution.environment,
        labels=execution.labels,
        message=(execution.status_reason or error.get("message", ""))[:MAX_MESSAGE_CHARS],
        details={"status": execution.status, **({"error": error} if error else {})},
        created_at=execution.finished_at or timezone.now(),
    )
    history_record(
        [Entry.of(result)],
        project_id=execution.project_id,
        actor_label=f"execution #{execution.pk}",
    )
    return result


def _step_error(execution: Execution, attempt_number: int) -> dict:
    """The error of the first step that errored in an attempt that errored ({} otherwise): a
    step's error is no error of the attempt, yet its type tells a test's error from the run's
    own (results.history.SETUP_ERRORS). Only an errored run's trace is read."""
    if execution.status != ExecutionStatus.ERROR:
        return {}
    for step in trace_steps(trace_of(execution, attempt_number)):
        if step.get("status") == "error" and step.get("error"):
            return {k: v for k, v in step["error"].items() if k in ("type", "message")}
    return {}


def attempts_of_this_run(attempts: list[Attempt]) -> list[Attempt]:
    """The final attempt and the automatic tries before it, back to the first try or re-run."""
    start = len(attempts) - 1
    while start > 0 and attempts[start].reason in CONTINUING:
        start -= 1
    return attempts[start:]


def worker_lost(attempt: Attempt) -> bool:
    return (attempt.error or {}).get("type") == "WorkerLost"


def _ms(start, end) -> int | None:
    if start is None or end is None:
        return None
    return min(max(0, round((end - start).total_seconds() * 1000)), MS_MAX)


def process_pending(*, older_than_seconds: float = 60, limit: int = 500) -> int:
    """The backstop: finished executions whose processing never ran (a worker died between the
    commit and the call). Returns how many were processed."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Execution.objects.filter(status__in=TERMINAL, rolled_up=False, finished_at__lt=cutoff)
        .order_by("finished_at")
        .values_list("id", flat=True)[:limit]
    )
    for execution_id in ids:
        try:
            process_finished_execution(execution_id)
        except Exception:
            log.exception("result processing failed for execution %s", execution_id)
    return len(ids)
