"""What the watchdog's reaper changes (engine.watchdog.reap_once): overdue runs time out, runs
whose worker stopped heartbeating are recovered, delayed runs are released. A worker also times
out its own run here (execution_time_out with its worker and attempt).

The reaper picks candidates from a read it made before; each service decides again on the
locked row, so a run that moved on meanwhile (re-queued, claimed again) is left alone.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from executions.models import AttemptReason, Execution, ExecutionStatus
from executions.services.lifecycle import locked
from executions.services.suites import after_change, cancel_children, fan_out
from executions.services.transitions import check_held, label, lock_with_parent, transition

log = logging.getLogger(__name__)
S = ExecutionStatus

# A worker lost this many times is not re-queued again: the case itself probably kills workers.
MAX_WORKER_LOST_REQUEUES = 3


def execution_time_out(
    execution_id: int, *, reason: str, worker: str = "", attempt: int | None = None, now=None
) -> Execution | None:
    """running / cancelling / awaiting_input -> timed_out.

    Two callers. A worker stopping its own run at its deadline or a step timeout passes `worker`
    and `attempt`: raises LeaseLost unless it still holds that attempt (a worker frozen past its
    deadline while the reaper handed the run to attempt 2 must not end attempt 2). The reaper
    passes neither: the execution is timed out only if it is overdue with no live owner, decided
    here under the lock (_overdue_unowned) and not on what the reaper read before, so a run
    re-queued and claimed again meanwhile keeps its new deadline. Returns None when the reaper
    found nothing to do."""
    now = now or timezone.now()
    with transaction.atomic():
        execution = lock_with_parent(execution_id)
        if worker:
            check_held(execution, worker=worker, attempt=attempt, write="the time-out")
        elif not _overdue_unowned(execution, now):
            return None
        transition(
            execution,
            execution.time_out,
            {"reason": reason, "now": now},
            actor_label=label(worker) or "reaper",
            reason=reason,
            close_attempt=S.TIMED_OUT,
            attempt_error={"type": "Timeout", "message": reason},
        )
        after_change(execution)
        if execution.is_suite_run:
            cancel_children(execution, reason=f"suite run timed out: {reason}", actor=None)
    return execution


def _overdue_unowned(execution: Execution, now) -> bool:
    """Past its deadline with nobody to stop it: awaiting input, a suite run, or an owner that is
    alive but did not stop (given one lease period of grace to do it itself). The reaper's rule,
    on the locked row."""
    if execution.status not in (S.RUNNING, S.CANCELLING, S.AWAITING_INPUT):
        return False
    if execution.deadline_at is None or execution.deadline_at >= now:
        return False
    grace = timedelta(seconds=settings.IB_LEASE_SECONDS)
    return not execution.worker or execution.deadline_at <= now - grace


def execution_recover_lost(execution_id: int, *, now=None) -> Execution | None:
    """The worker of a running execution stopped heartbeating: re-queue it as a new attempt
    (reason "worker lost"), or fail it when it has been lost too often; a cancelling one is
    cancelled. Re-checks the lease under the lock, so two reapers (or a worker that comes back)
    cannot both act."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.IB_LEASE_SECONDS)
    with transaction.atomic():
        execution = lock_with_parent(execution_id)
        if execution.status not in (S.RUNNING, S.CANCELLING) or not execution.worker:
            return None
        if execution.heartbeat_at and execution.heartbeat_at >= stale_before:
            return None
        lost_worker = execution.worker
        reason = f"worker {lost_worker} stopped heartbeating"
        lost = execution.attempts.filter(reason=AttemptReason.WORKER_LOST).count()
        recovery = {
            "actor_label": "reaper",
            "reason": reason,
            "attempt_error": {"type": "WorkerLost", "message": reason},
        }
        if execution.status == S.CANCELLING:
            transition(
                execution,
                execution.confirm_cancel,
                {"now": now},
                close_attempt=S.CANCELLED,
                **recovery,
            )
        elif lost < MAX_WORKER_LOST_REQUEUES:
            transition(
                execution,
                execution.requeue,
                {"reason": reason, "now": now},
                close_attempt=S.ERROR,
                new_attempt=AttemptReason.WORKER_LOST,
                **recovery,
            )
        else:
            transition(
                execution,
                execution.fail_lost,
                {"reason": f"{reason}; lost {lost + 1} times, giving up", "now": now},
                close_attempt=S.ERROR,
                **recovery,
            )
        after_change(execution)
    log.warning("recovered execution %s from lost worker %s", execution_id, lost_worker)
    return execution


def execution_interrupt_silent(execution_id: int, *, now=None) -> Execution | None:
    """A reported run whose client said nothing (no batch, no heartbeat) for longer than its
    lease: running -> interrupted, with everything that arrived kept. Decided on the locked row,
    so a batch that renewed the lease after the reaper's read keeps the run open. Returns None
    when there was nothing to do."""
    now = now or timezone.now()
    with transaction.atomic():
        execution = locked(execution_id)
        lease = execution.lease_seconds
        if execution.status != S.RUNNING or lease is None or execution.heartbeat_at is None:
            return None
        if execution.heartbeat_at >= now - timedelta(seconds=lease):
            return None
        reason = f"the CI client sent nothing for longer than its lease ({lease} s)"
        transition(
            execution,
            execution.interrupt,
            {"reason": reason, "now": now},
            actor_label="reaper",
            reason=reason,
            close_attempt=S.INTERRUPTED,
            attempt_error={"type": "ClientSilent", "message": reason},
        )
    log.warning("interrupted reported run %s: %s", execution_id, reason)
    return execution


def execution_release_due(execution_id: int) -> Execution | None:
    """pending -> queued once the not-before time has come (suite runs fan out then)."""
    with transaction.atomic():
        execution = locked(execution_id)
        if execution.status != S.PENDING:
            return None
        transition(
            execution,
            execution.release,
            {"now": timezone.now()},
            actor_label="scheduler",
            reason="not-before reached",
        )
        if execution.is_suite_run:
            fan_out(execution)
    return execution
