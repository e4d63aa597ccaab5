"""The watchdog: one thread in every worker process.

- Heartbeats each execution this process runs, so a lease stays fresh while the worker lives.
- Sees a cancel, a passed deadline or an overrunning step within IB_CANCEL_POLL_SECONDS and stops the
  run (RunContext.request_stop kills the child process or browser the step started).
- Reaps: re-queues work whose worker died (stale lease), times out what overran with no live owner,
  releases delayed runs when their time comes, and re-rings the doorbell for claimable work the
  broker lost. Every watchdog reaps; the services re-check under row locks, so two reapers never
  act twice on one execution.

Started on django-q2's post_spawn signal (each worker process) and stopped as a worker process exits
cleanly, which also removes its row from the dashboard's worker list; `manage.py reap` runs one pass.
"""

import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta
from multiprocessing.util import Finalize

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from executions.models import Execution, ExecutionStatus
from executions.selectors import queue_claimable
from executions.services import reaper
from executions.services.queue import _broker, ring_doorbell
from executions.services.worker_writes import execution_heartbeat
from monitoring.workers import worker_gone, worker_seen
from runners import processes
from runners.context import RunContext, StopKind

log = logging.getLogger(__name__)

_tracked: dict[int, tuple[RunContext, str]] = {}
_tracked_lock = threading.Lock()
# Since when this process has run nothing (None while it runs something). Kept here, at every
# start and end of a run, rather than guessed from heartbeats: a worker that runs many short runs
# between two heartbeats is busy, not idle. The health check reads it (monitoring.queue_stuck).
_idle_since: datetime | None = None
_thread: threading.Thread | None = None
_stop = threading.Event()


def worker_id() -> str:
    # pid is read each time: worker processes are forked after this module is imported.
    return f"{socket.gethostname()}:{os.getpid()}"


def track(execution_id: int, ctx: RunContext, worker: str) -> None:
    global _idle_since
    with _tracked_lock:
        _tracked[execution_id] = (ctx, worker)
        _idle_since = None


def untrack(execution_id: int) -> None:
    global _idle_since
    with _tracked_lock:
        _tracked.pop(execution_id, None)
        if not _tracked:
            _idle_since = timezone.now()


def check_tracked(*, heartbeat: bool) -> None:
    """One pass over this process's running executions."""
    with _tracked_lock:
        runs = list(_tracked.items())
    for execution_id, (ctx, worker) in runs:
        if ctx.cancel.is_set():
            continue
        if ctx.remaining() is not None and ctx.remaining() <= 0:
            ctx.request_stop("execution timeout reached", StopKind.TIMEOUT)
            continue
        step = ctx.current_step
        if step and step[2] is not None and time.monotonic() - step[1] > step[2]:
            ctx.request_stop(
                f"step {step[0]!r} overran its {step[2]:g} s timeout", StopKind.STEP_TIMEOUT
            )
            continue
        if heartbeat:
            status = execution_heartbeat(execution_id, worker=worker, attempt=ctx.attempt_number)
        else:
            status = (
                Execution.objects.filter(pk=execution_id).values_list("status", flat=True).first()
            )
        if status is None:
            ctx.request_stop("the lease was lost", StopKind.LEASE_LOST)
        elif status == ExecutionStatus.CANCELLING:
            ctx.request_stop("cancelled", StopKind.CANCEL)


def reap_once(now=None) -> dict:
    """One reaper pass. Returns counts of what it did (for the command and the logs)."""
    S = ExecutionStatus
    now = now or timezone.now()
    lease = timedelta(seconds=settings.IB_LEASE_SECONDS)
    done = {"recovered": 0, "timed_out": 0, "released": 0, "rung": 0, "interrupted": 0}

    stale = Execution.objects.filter(
        status__in=(S.RUNNING, S.CANCELLING), test_case__isnull=False, heartbeat_at__lt=now - lease
    ).exclude(worker="")
    for execution_id in stale.values_list("id", flat=True)[:100]:
        if reaper.execution_recover_lost(execution_id, now=now):
            done["recovered"] += 1

    # Past the deadline with nobody to stop it: awaiting input, a suite run, or an owner that is
    # alive but did not stop (given one lease period of grace to do it itself). This only picks
    # candidates; the service decides on the locked row (the run may have been re-queued and
    # claimed again with a new deadline since this read).
    overdue = Execution.objects.filter(
        Q(worker="") | Q(deadline_at__lt=now - lease),
        status__in=(S.RUNNING, S.CANCELLING, S.AWAITING_INPUT),
        deadline_at__lt=now,
    )
    for execution_id in overdue.values_list("id", flat=True)[:100]:
        if reaper.execution_time_out(execution_id, reason="execution timeout reached", now=now):
            done["timed_out"] += 1

    # Reported runs silent past their own lease. Few run at once: their leases are compared here
    # rather than in SQL (interval arithmetic differs between SQLite and PostgreSQL), and only
    # the silent ones are locked, by the service, which decides again.
    reported = Execution.objects.filter(status=S.RUNNING, lease_seconds__isnull=False)
    for run_id, beat, seconds in reported.values_list("id", "heartbeat_at", "lease_seconds"):
        silent = beat is not None and beat < now - timedelta(seconds=seconds)
        if silent and reaper.execution_interrupt_silent(run_id, now=now):
            done["interrupted"] += 1

    due = Execution.objects.filter(status=S.PENDING, not_before__lte=now)
    for execution_id in due.values_list("id", flat=True)[:100]:
        if reaper.execution_release_due(execution_id):
            done["released"] += 1

    waited = now - timedelta(seconds=settings.IB_REQUEUE_LOST_AFTER_SECONDS)
    if queue_claimable(now).filter(queued_at__lt=waited).exists() and _broker_is_empty():
        from django.db import transaction

        with transaction.atomic():
            ring_doorbell()
        done["rung"] = 1
    return done


def _broker_is_empty() -> bool:
    """Re-ring only when no doorbell is waiting in the broker: then nothing will come for the
    queued work (the broker lost the task, or a claim that found no free slot used it up)."""
    try:
        return _broker().queue_size() == 0
    except Exception:
        return True


def _report_alive() -> None:
    """Tell the dashboard and the readiness check this worker process is up (never raises)."""
    with _tracked_lock:
        running, idle_since = list(_tracked), _idle_since
    worker_seen(worker_id(), running, idle_since)


def _report_gone() -> None:
    worker_gone(worker_id())


def _loop() -> None:
    # Spread the reapers of many processes over the interval (0.8x to 1.2x, fixed per process).
    _spread = 0.8 + (os.getpid() % 41) / 100
    poll = settings.IB_CANCEL_POLL_SECONDS
    next_heartbeat = next_reap = 0.0
    while not _stop.wait(poll):
        now = time.monotonic()
        try:
            beat = now >= next_heartbeat
            check_tracked(heartbeat=beat)
            if beat:
                next_heartbeat = now + settings.IB_HEARTBEAT_SECONDS
                _report_alive()
            if now >= next_reap:
                reap_once()
                next_reap = now + settings.IB_REAP_SECONDS * _spread

        except Exception:
            log.exception("watchdog pass failed; retrying")
            close_old_connections()
    # Stopped, so no more heartbeats: from here on the row would only say "alive" falsely.
    _report_gone()
    connection.close()  # this thread's own connection


def start() -> bool:
    """Start this process's watchdog thread. Returns False if it was already running."""
    global _thread, _idle_since
    if _thread is not None and _thread.is_alive():
        return False
    with _tracked_lock:
        if not _tracked:
            _idle_since = timezone.now()
    _stop.clear()
    _thread = threading.Thread(target=_loop, name="intellibrowse-watchdog", daemon=True)
    _thread.start()
    return True


def stop() -> None:
    """Stop the thread (a command that worked the queue itself is done, or a worker process exits
    cleanly)."""
    global _thread
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=10)
    _thread = None


def connect_worker_signals() -> None:
    from django_q.signals import post_spawn

    post_spawn.connect(_on_worker_spawned, dispatch_uid="intellibrowse-watchdog")


def _on_worker_spawned(sender, proc_name, **kwargs) -> None:
    # A worker that was killed mid-step left what its command started running (only the
    # direct child dies with it); its replacement starts here, so it cleans up first.
    swept = processes.sweep_orphans()
    if swept:
        log.warning("killed %d processes left running by the steps of dead workers", swept)
    start()
    # django-q2 has no signal for a worker's end. A clean stop (SIGTERM or SIGINT to qcluster)
    # ends the worker's task loop and multiprocessing runs its finalizers as the process exits;
    # atexit would not run (a forked worker leaves through os._exit). A killed worker runs
    # nothing: its row goes stale and the dashboard calls it gone after the staleness window.
    Finalize(None, stop, exitpriority=10)
