"""Recording the steps of a manual run: the one write path for testers (API, dashboard, admin).

A manual execution waits in awaiting_input (runners.manual.ManualRunner). Each call
stores one step result in the current attempt's trace; the call that records the last missing
step completes the run: failed if any step failed, error if any is blocked, else passed.
"""

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import CaseType
from core.errors import DomainError
from executions.attachments import attachment_max_bytes, attachment_save
from executions.errors import ExecutionError, InvalidTransition, StaleAttempt
from executions.models import Execution, ExecutionStatus, Trace
from executions.outcome import StepOutcome, StepStatus, step_record
from executions.services import lifecycle, worker_writes
from executions.traces import trace_steps

MANUAL_STATUSES = (StepStatus.PASSED, StepStatus.FAILED, StepStatus.BLOCKED, StepStatus.SKIPPED)
MAX_TEXT_CHARS = 10_000


class ManualStepInvalid(ExecutionError):
    code = "manual_step_invalid"


class AttachmentTooLarge(DomainError):
    status = 413
    code = "attachment_too_large"


def execution_record_manual_step(
    execution_id: int,
    order: int,
    *,
    status: str,
    actual: str = "",
    note: str = "",
    attachment=None,
    attempt: int | None = None,
    actor,
) -> dict:
    """Record step `order` (1-based) of a manual execution as passed / failed / blocked / skipped,
    with what the tester saw, a note and an optional file; recording a step again replaces it.
    Completes the execution when every step has a result. `attempt` is the attempt number the
    tester was looking at (the dashboard's form always sends it): a result meant for an earlier
    attempt never lands in a later one (the run was re-run, or re-queued, meanwhile).

    The caller has checked that `actor` is a tester of the project (catalog.access.require).
    Raises ManualStepInvalid (bad status or order, not a manual case), AttachmentTooLarge,
    InvalidTransition (the run is not awaiting input), StaleAttempt (`attempt` is not the current
    attempt).
    """
    if status not in MANUAL_STATUSES:
        raise ManualStepInvalid(f"status must be one of {', '.join(MANUAL_STATUSES)}.")
    if attachment is not None and attachment.size > attachment_max_bytes():
        raise AttachmentTooLarge(
            f"The attachment is {attachment.size} bytes; at most {attachment_max_bytes()} are allowed."
        )
    stored = None
    try:
        with transaction.atomic():
            execution = _lock(execution_id)
            if attempt is not None and attempt != execution.attempt_count:
                raise StaleAttempt(
                    f"That result is for attempt {attempt}, but execution #{execution.pk} is"
                    f" in attempt {execution.attempt_count} now; reload the page.",
                    detail={"attempt": attempt, "current_attempt": execution.attempt_count},
                )
            steps = _manual_steps(execution, order)
            attempt = execution.attempts.order_by("-number").first()
            if attachment is not None:
                stored = attachment_save(
                    execution.pk,
                    attempt.number,
                    attachment.name or "attachment",
                    attachment,
                    getattr(attachment, "content_type", "") or "",
                )
            recorded = _recorded_steps(attempt)
            step = _step_entry(
                execution, steps[order - 1], order, status, actual, note, stored, actor, recorded
            )
            worker_writes.execution_record_step(execution.pk, step, actor=actor)
            recorded[order] = step
            if len(recorded) == len(steps):
                outcome, reason = _outcome(recorded)
                worker_writes.execution_complete(
                    execution.pk, outcome=outcome, reason=reason, actor=actor
                )
    except BaseException:
        if stored is not None:  # the step was not recorded: do not keep an orphan file
            default_storage.delete(stored["path"])
        raise
    return step


def _lock(execution_id: int) -> Execution:
    """Parent (a suite run) before child: the lock order of executions.services.lifecycle, which
    execution_complete follows when it rolls the suite up."""
    parent_id = (
        Execution.objects.filter(pk=execution_id).values_list("parent_id", flat=True).first()
    )
    if parent_id:
        lifecycle.locked(parent_id)
    try:
        return lifecycle.locked(execution_id)
    except Execution.DoesNotExist:
        raise ManualStepInvalid(f"No execution #{execution_id}.", "not_found") from None


def _manual_steps(execution: Execution, order: int) -> list[dict]:
    case = execution.test_case
    if case is None or case.type != CaseType.MANUAL:
        raise ManualStepInvalid(f"Execution #{execution.pk} is not a run of a manual case.")
    if execution.status != ExecutionStatus.AWAITING_INPUT:
        raise InvalidTransition(
            f"Execution #{execution.pk} is {execution.status}, not awaiting input."
        )
    if not 1 <= order <= len(case.steps):
        raise ManualStepInvalid(
            f"The case has steps 1 to {len(case.steps)}; there is no step {order}."
        )
    return case.steps


def _recorded_steps(attempt) -> dict[int, dict]:
    trace = Trace.objects.filter(attempt=attempt).first()
    return {s["order"]: s for s in trace_steps(trace)}


def _step_entry(execution, spec, order, status, actual, note, stored, actor, recorded) -> dict:
    # A manual step took from the previous result (or the start of the run) until now.
    previous = [parse_datetime(s["finished_at"]) for o, s in recorded.items() if o != order]
    started_at = max(filter(None, previous), default=None) or execution.started_at or timezone.now()
    error = None
    if status in (StepStatus.FAILED, StepStatus.BLOCKED):
        error = {
            "type": "ManualFailure" if status == StepStatus.FAILED else "Blocked",
            "message": (note or actual or f"marked {status} by the tester")[:MAX_TEXT_CHARS],
        }
    outcome = StepOutcome(
        status=status,
        actual=actual[:MAX_TEXT_CHARS],
        error=error,
        attachments=[stored] if stored else [],
    )
    entry = step_record(
        order=order,
        name=spec.get("name") or spec["instruction"][:120],
        kind="manual",
        outcome=outcome,
        started_at=started_at,
        elapsed=(timezone.now() - started_at).total_seconds(),
        input={
            "instruction": spec["instruction"],
            **({"data": spec["data"]} if "data" in spec else {}),
        },
        expected=spec.get("expected", ""),
    )
    entry.update(note=note[:MAX_TEXT_CHARS], recorded_by=actor.get_username())
    return entry


def _outcome(recorded: dict[int, dict]) -> tuple[str, str]:
    for status, outcome in (
        (StepStatus.FAILED, ExecutionStatus.FAILED),
        (StepStatus.BLOCKED, ExecutionStatus.ERROR),
    ):
        hits = sorted(o for o, s in recorded.items() if s["status"] == status)
        if hits:
            first = recorded[hits[0]]
            message = (first.get("error") or {}).get("message", "")
            return outcome, f"step {hits[0]} {status}: {message}"[:500]
    return ExecutionStatus.PASSED, f"{len(recorded)} manual steps recorded, none failed"
