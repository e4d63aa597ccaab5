"""Running one claimed execution inside a worker process.

The worker task claims (executions.services.claim.execution_claim_next), then this module hands
the case to the runner for its type, tracks the run with the watchdog (heartbeat, cancel, timeouts),
and reports the end through the lifecycle services. It never changes a status itself.
"""

import contextlib
import logging
import time

from django.db import InterfaceError, OperationalError, close_old_connections
from django.utils import timezone

from engine import watchdog
from executions.attachments import discard_attachments
from executions.errors import InvalidTransition, LeaseLost
from executions.models import Execution, ExecutionStatus
from executions.services import claim
from executions.services.queue import ring_doorbell_now
from executions.services.reaper import execution_time_out
from executions.services.worker_writes import (
    execution_await_input,
    execution_complete,
    execution_confirm_cancel,
    execution_record_step,
    execution_set_total_steps,
)
from runners.base import RunResult, StepRecorder, error_from_exception
from runners.context import Cancelled, RunContext, StopKind
from runners.registry import runner_for

log = logging.getLogger(__name__)


# A doorbell drains the queue for this long before handing over to a fresh task, so a worker
# does not go back to the broker between executions, yet django-q2 still sees tasks end.
DRAIN_SECONDS = 30


def run_next(*, worker: str, drain: bool = False) -> int | None:
    """Claim and run the best queued execution; with `drain`, keep claiming until the queue has
    nothing claimable (or DRAIN_SECONDS passed: then ring again and let another task go on).
    Returns the id of the last execution run, or None if there was nothing to claim."""
    last = None
    began = time.monotonic()
    while True:
        execution = claim.execution_claim_next(worker=worker)
        if execution is None:
            return last
        run_claimed(execution, worker=worker)
        last = execution.pk
        if not drain:
            return last
        if time.monotonic() - began > DRAIN_SECONDS:
            ring_doorbell_now()
            return last


def context_for(execution: Execution) -> RunContext:
    """The run's context, for an execution just claimed (execution_claim_next set `attempt_id`)."""
    remaining = (execution.deadline_at - timezone.now()).total_seconds()
    return RunContext(
        execution_id=execution.pk,
        attempt_id=execution.attempt_id,
        attempt_number=execution.attempt_count,
        project_id=execution.project_id,
        parameters=dict(execution.parameters),
        # Built-in variables steps can use, e.g. to tag what they create with the run's identity.
        variables={
            "execution_id": execution.pk,
            "attempt_number": execution.attempt_count,
            "environment": execution.environment,
            "revision": execution.revision,
            "branch": execution.branch,
        },
        allowed_hosts=list(execution.project.allowed_hosts),
        deadline=time.monotonic() + remaining,
        step_timeout=execution.step_timeout_seconds,
    )


def recorder_for(ctx: RunContext, worker: str) -> StepRecorder:
    """The recorder a runner reports through, its writes bound to this worker's attempt."""
    return StepRecorder(
        ctx,
        store_step=lambda step: execution_record_step(
            ctx.execution_id,
            step,
            worker=worker,
            attempt=ctx.attempt_number,
            attempt_id=ctx.attempt_id,
        ),
        set_total=lambda count: execution_set_total_steps(
            ctx.execution_id, count, worker=worker, attempt=ctx.attempt_number
        ),
    )


def run_claimed(execution: Execution, *, worker: str) -> None:
    ctx = context_for(execution)
    recorder = recorder_for(ctx, worker)
    watchdog.track(execution.pk, ctx, worker)
    try:
        result = _run(ctx, execution, recorder)
        _report(execution, ctx, result, recorder, worker=worker)
    except InvalidTransition as exc:
        # Someone else changed the execution meanwhile (the reaper re-queued it, another worker
        # may run it as a new attempt): not ours to end. The refusing service logged it and
        # wrote nothing.
        log.warning("execution %s: abandoned: %s", execution.pk, exc)
    except (OperationalError, InterfaceError):
        # The database went away under us (a restart, a failover). That is not the test's fault:
        # we stop heartbeating, the lease runs out and the reaper gives the run a new attempt
        # ("worker lost") once the database is back.
        log.exception("execution %s: database unavailable; leaving it to the reaper", execution.pk)
        close_old_connections()
    finally:
        watchdog.untrack(execution.pk)
        ctx.run_cleanups()


def _run(
    ctx: RunContext, execution: Execution, recorder: StepRecorder
) -> RunResult | Cancelled | Exception:
    try:
        runner = runner_for(execution.test_case.type)
        return runner.run(ctx, execution.test_case, recorder)
    except Cancelled as stop:
        return stop
    except (OperationalError, InterfaceError):
        raise  # infrastructure, see run_claimed
    except Exception as exc:  # a bug in a runner must end the run as "error", never hang it
        log.exception("runner failed on execution %s", execution.pk)
        return exc


def _report(
    execution: Execution, ctx: RunContext, result, recorder: StepRecorder, *, worker: str
) -> None:
    """End the run through the lifecycle. A finish takes the runner's held last step with it
    (one transaction); any other ending stores that step on its own first."""
    execution_id, attempt = execution.pk, ctx.attempt_number
    awaiting = isinstance(result, RunResult) and result.awaiting_input
    if isinstance(result, Cancelled) or awaiting:
        with contextlib.suppress(Cancelled):  # lease lost: the step is no longer ours to store
            recorder.flush()
    if isinstance(result, Cancelled):
        if result.kind in (StopKind.TIMEOUT, StopKind.STEP_TIMEOUT):
            execution_time_out(execution_id, reason=result.reason, worker=worker, attempt=attempt)
        elif result.kind == StopKind.CANCEL:
            execution_confirm_cancel(execution_id, worker=worker, attempt=attempt)
        return  # lease lost: the new owner reports
    if awaiting:
        execution_await_input(execution_id, worker=worker, attempt=attempt)
        return
    if isinstance(result, Exception):
        error = error_from_exception(result)
        outcome, reason = ExecutionStatus.ERROR, f"{error['type']}: {error['message']}"
    else:
        error, outcome, reason = None, result.outcome, result.reason
    last_step = recorder.take_held()
    try:
        execution_complete(
            execution_id,
            outcome=outcome,
            reason=reason,
            worker=worker,
            error=error,
            parent_id=execution.parent_id,
            last_step=last_step,
            attempt_id=ctx.attempt_id,
            attempt=attempt,
        )
    except LeaseLost:
        discard_attachments(last_step)  # the step was not stored: keep no orphan file
        raise
