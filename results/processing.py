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
    TraceStorage,
)
from executions.traces import trace_of
from results.history import Entry, history_record
from results.models import CaseOutcome, CaseResult
from results.runs import RunRef
from results.signals import results_recorded
from results.signatures import signature_of_error

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
STEP_FAILING = ("failed", "error")
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
    error = final.error or {}
    outcome = OUTCOME_OF[execution.status]
    message = (execution.status_reason or error.get("message", ""))[:MAX_MESSAGE_CHARS]
    failed = outcome in (CaseOutcome.FAILED, CaseOutcome.ERROR)
    # A failed assertion ends the attempt without an error of its own: the failing step's error
    # (type, message, traceback) is what the failure is, and what its signature is made of.
    step = failing_step(execution, final.number) if failed and not error else None
    if step:
        error = {**step["error"], "step": step.get("order")}
    result = CaseResult.objects.create(
        project_id=execution.project_id,
        case_id=execution.test_case_id,
        execution=execution,
        attempt_number=final.number,
        suite_name=execution.parent.test_suite.name if execution.parent_id else "",
        outcome=outcome,
        retries=sum(1 for a in run[:-1] if a.outcome in FAILING and not worker_lost(a)),
        duration_ms=_ms(final.started_at, final.finished_at or execution.finished_at),
        queue_wait_ms=_ms(run[0].created_at, run[0].started_at),
        revision=execution.revision,
        branch=execution.branch,
        environment=execution.environment,
        labels=execution.labels,
        message=message,
        details={"status": execution.status, **({"error": error} if error else {})},
        signature=signature_of_error(error, message, execution.status) if failed else "",
        created_at=execution.finished_at or timezone.now(),
    )
    previous: dict[int, str] = {}
    history_record(
        [Entry.of(result)],
        project_id=execution.project_id,
        actor_label=f"execution #{execution.pk}",
        previous=previous,
    )
    results_recorded.send(
        sender=CaseResult,
        project_id=execution.project_id,
        run=RunRef.of_execution(execution),
        branch=execution.branch,
        revision=execution.revision,
        failures=[failure_of(result, error.get("type", ""))] if failed else [],
        passed=[result.case_id] if outcome == CaseOutcome.PASSED else [],
        previous=previous,
    )
    return result


def failure_of(result: CaseResult, error_type: str) -> dict:
    """A failure as results_recorded hands it on."""
    return {
        "id": result.pk,
        "case_id": result.case_id,
        "signature": result.signature,
        "outcome": result.outcome,
        "message": result.message,
        "error_type": error_type,
    }


def failing_step(execution: Execution, attempt_number: int) -> dict | None:
    """The first failed or errored step with an error of an attempt's trace (inline, or the
    StepRecord rows by their status column: one query either way)."""
    trace = trace_of(execution, attempt_number)
    if trace is None:
        return None
    if trace.storage == TraceStorage.INLINE:
        steps = (s for s in trace.steps if s.get("error"))
    else:
        steps = (
            trace.records.filter(status__in=STEP_FAILING)
            .order_by("order")
            .values_list("data", flat=True)[:5]
        )
    return next((s for s in steps if isinstance(s.get("error"), dict)), None)


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
