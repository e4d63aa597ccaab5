"""The execution lifecycle: one service per state change.

Every function here runs in one transaction: lock (or compare-and-swap), check the transition is
allowed, transition (django-fsm), save, record the event, and on commit ring the queue's doorbell.
The API, the admin, the dashboard, the management commands and the worker tasks all call these.

Lock order, to stay free of deadlocks: a suite run (parent) before its children; the project row
only inside the claim.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from catalog.models import CaseStatus, Project, TestCase, TestSuite
from executions.errors import InvalidTransition, LeaseLost, NotRunnable
from executions.models import (
    ACTIVE,
    LEASED,
    TERMINAL,
    Attempt,
    AttemptReason,
    EventKind,
    Execution,
    ExecutionStatus,
    Priority,
    Trigger,
)
from executions.rows import claimable_exists, lock_execution
from executions.services.events import (
    event_build,
    event_record,
    event_transition,
    events_insert,
)
from executions.services.queue import ring_doorbell

log = logging.getLogger(__name__)
S = ExecutionStatus

# A worker lost this many times is not re-queued again: the case itself probably kills workers.
MAX_WORKER_LOST_REQUEUES = 3
# Failing outcomes that end a fail-fast suite and that count against a suite's result.
FAILING = (S.FAILED, S.ERROR, S.TIMED_OUT)
# A caller that does not know an execution's suite run (parent) passes nothing: it is looked up.
UNKNOWN = object()


def locked(execution_id: int, *, with_project: bool = True) -> Execution:
    """The execution, row-locked until the end of the current transaction (with its project
    loaded, unless the caller never needs it: a step record). See executions.rows."""
    return lock_execution(execution_id, with_project=with_project)


def _current_attempt(execution: Execution) -> Attempt | None:
    return execution.attempts.order_by("-number").first()


def _new_attempt(execution: Execution, reason: str, actor=None) -> Attempt:
    execution.attempt_count += 1
    attempt = Attempt.objects.create(
        execution=execution,
        number=execution.attempt_count,
        reason=reason,
        triggered_by=actor if actor is not None and actor.is_authenticated else None,
    )
    event_record(
        execution,
        kind=EventKind.ATTEMPT,
        actor=actor,
        reason=AttemptReason(reason).label,
        data={"attempt": attempt.number, "reason": reason},
        attempt_number=attempt.number,
    )
    return attempt


def _close_attempt(execution: Execution, outcome: str, error: dict | None = None) -> None:
    Attempt.objects.filter(execution=execution, number=execution.attempt_count).update(
        outcome=outcome, finished_at=timezone.now(), error=error
    )


# --- creating ------------------------------------------------------------------------------


def execution_create(
    *,
    project: Project,
    test_case: TestCase | None = None,
    test_suite: TestSuite | None = None,
    actor=None,
    trigger: str = Trigger.USER,
    priority: int = Priority.NORMAL,
    parameters: dict | None = None,
    environment: str = "",
    revision: str = "",
    branch: str = "",
    labels: dict | None = None,
    not_before=None,
    timeout_seconds: int | None = None,
    step_timeout_seconds: int | None = None,
    max_retries: int = 0,
    retry_backoff_seconds: int = 5,
) -> Execution:
    """Create a run of a case or a suite, queued (or pending until `not_before`).

    A suite run is a parent with one child per active, non-skipped item; children are queued at
    once and the workers honour the suite's max_parallel. Raises NotRunnable when the target is in
    another project, deprecated, or a suite with nothing to run.
    """
    if (test_case is None) == (test_suite is None):
        raise NotRunnable("Give exactly one of a test case or a test suite.")
    target = test_case or test_suite
    if target.project_id != project.pk:
        raise NotRunnable("That test belongs to another project.", "wrong_project")
    if test_case is not None and test_case.status == CaseStatus.DEPRECATED:
        raise NotRunnable(f"Test case {test_case.key!r} is deprecated.", "case_deprecated")
    now = timezone.now()
    with transaction.atomic():
        execution = Execution(
            project=project,
            test_case=test_case,
            test_suite=test_suite,
            status=S.PENDING if not_before and not_before > now else S.QUEUED,
            priority=priority,
            trigger=trigger,
            triggered_by=actor if actor is not None and actor.is_authenticated else None,
            # The effective parameters are stored, so a run shows exactly what it ran with.
            parameters={**target.parameters, **(parameters or {})},
            environment=environment,
            revision=revision,
            branch=branch,
            labels=labels or {},
            not_before=not_before,
            queued_at=now,
            timeout_seconds=timeout_seconds or settings.IB_DEFAULT_TIMEOUT_SECONDS,
            step_timeout_seconds=step_timeout_seconds,
            max_retries=max_retries,
            retry_backoff_seconds=retry_backoff_seconds,
            max_parallel=test_suite.max_parallel if test_suite else 1,
            fail_fast=test_suite.fail_fast if test_suite else False,
        )
        _insert_new(execution, actor=actor, reason=f"triggered by {trigger}")
        if test_suite is not None and execution.status == S.QUEUED:
            _suite_fan_out(execution, actor=actor)
        if execution.status == S.QUEUED:
            ring_doorbell()
    return execution


def _insert_new(execution: Execution, *, actor, reason: str) -> None:
    """INSERT a new execution with its first attempt and its first two events (created, first
    attempt): three statements. Its counters are set before the INSERT, so the row needs no
    second write (this is on every API call that starts a run, and once per suite child)."""
    execution.attempt_count, execution.event_seq = 1, 2  # the attempt and the events below
    execution.save()
    Attempt.objects.create(
        execution=execution,
        number=1,
        reason=AttemptReason.FIRST,
        triggered_by=actor if actor is not None and actor.is_authenticated else None,
    )
    events_insert(
        execution,
        [
            event_build(
                execution,
                1,
                kind=EventKind.TRANSITION,
                to_status=execution.status,
                actor=actor,
                reason=reason,
            ),
            event_build(
                execution,
                2,
                kind=EventKind.ATTEMPT,
                actor=actor,
                reason=AttemptReason.FIRST.label,
                data={"attempt": 1, "reason": AttemptReason.FIRST},
                attempt_number=1,
            ),
        ],
    )


def _suite_items(suite: TestSuite):
    return (
        suite.items.filter(skip=False)
        .exclude(case__status=CaseStatus.DEPRECATED)
        .select_related("case")
        .order_by("order", "id")
    )


def _suite_fan_out(parent: Execution, *, actor=None) -> None:
    """queued -> running for a suite run: one queued child per runnable item (or, for a re-run of
    failed children only, a new attempt for each child that did not pass)."""
    now = timezone.now()
    deadline = now + timedelta(seconds=parent.timeout_seconds)
    children = list(parent.children.all())
    if parent.only_failed and children:
        for child in children:
            if child.status in FAILING or child.status == S.CANCELLED:
                _rerun(locked(child.pk), actor=actor, only_failed=False, label="suite re-run")
    elif children:
        for child in children:
            _rerun(locked(child.pk), actor=actor, only_failed=False, label="suite re-run")
    else:
        items = list(_suite_items(parent.test_suite))
        if not items:
            raise NotRunnable("The suite has no runnable items.", "suite_empty")
        for item in items:
            child = Execution(
                project_id=parent.project_id,
                test_case=item.case,
                parent=parent,
                status=S.QUEUED,
                priority=parent.priority,
                trigger=Trigger.SUITE,
                triggered_by=parent.triggered_by,
                parameters={**item.case.parameters, **parent.parameters},
                environment=parent.environment,
                revision=parent.revision,
                branch=parent.branch,
                labels=parent.labels,
                queued_at=now,
                timeout_seconds=parent.timeout_seconds,
                step_timeout_seconds=parent.step_timeout_seconds,
                max_retries=parent.max_retries,
                retry_backoff_seconds=parent.retry_backoff_seconds,
            )
            _insert_new(child, actor=actor, reason=f"part of suite run #{parent.pk}")
            ring_doorbell()
    before = parent.status
    parent.start(worker="", now=now, deadline=deadline)
    parent.summary = {"children": parent.children.count()}
    event_transition(parent, before, actor=actor, reason="children queued")
    parent.save()
    Attempt.objects.filter(execution=parent, number=parent.attempt_count).update(started_at=now)


# --- while running --------------------------------------------------------------------------


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
    that attempt (see _check_held). Anyone else (a person, through executions.services.manual)
    writes into the current attempt; raises InvalidTransition if the execution is not active."""
    with transaction.atomic():
        execution = locked(execution_id, with_project=False)
        if worker:
            _check_held(execution, worker=worker, attempt=attempt, write="step")
        elif execution.status not in (S.RUNNING, S.CANCELLING, S.AWAITING_INPUT):
            raise InvalidTransition(f"Execution #{execution_id} is {execution.status}.")
        step = _store_step(execution, step, worker=worker, actor=actor, attempt_id=attempt_id)
        execution.save(update_fields=["summary", "event_seq"])
    return step


def _check_held(execution: Execution, *, worker: str, attempt: int | None, write: str) -> None:
    """A worker-side write (a step, a finish, a time-out, a cancel confirmation, awaiting input,
    the step total) is allowed only to the worker that still holds the attempt it is running:
    the execution is leased (running or cancelling), by this worker, and its current attempt is
    the caller's. The worker name alone is not enough: a worker whose lease was recovered may
    claim the same execution again as a new attempt. Checked on the row the caller already
    locked, so it costs no statement.

    Raises LeaseLost (logged): the caller writes nothing and abandons the run."""
    if (
        execution.status in LEASED
        and execution.worker == worker
        and attempt is not None
        and execution.attempt_count == attempt
    ):
        return
    log.warning(
        "execution %s: refused %s from worker %s for attempt %s; the execution is %s, held by"
        " %r in attempt %s",
        execution.pk,
        write,
        worker,
        attempt,
        execution.status,
        execution.worker,
        execution.attempt_count,
    )
    raise LeaseLost(
        f"Execution #{execution.pk} is no longer held by worker {worker} in attempt {attempt}."
    )


def _store_step(
    execution: Execution, step: dict, *, worker: str, actor=None, attempt_id: int | None
) -> dict:
    """The step into the current attempt's trace, its counts into the summary, and its event;
    the caller holds the execution locked and saves it."""
    from executions.traces import trace_record_step

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
        actor_label=_label(worker),
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
        _check_held(execution, worker=worker, attempt=attempt, write="the step total")
        execution.summary = {**execution.summary, "steps_total": total}
        execution.save(update_fields=["summary"])


def execution_await_input(execution_id: int, *, worker: str, attempt: int | None) -> Execution:
    """running -> awaiting_input: a manual run waits for people; the worker lets go. Raises
    LeaseLost unless `worker` still holds `attempt`."""
    with transaction.atomic():
        execution = locked(execution_id)
        _check_held(execution, worker=worker, attempt=attempt, write="awaiting input")
        before = execution.status
        execution.await_input(
            deadline=timezone.now() + timedelta(seconds=settings.IB_MANUAL_TIMEOUT_SECONDS)
        )
        event_transition(execution, before, actor_label=f"worker {worker}", reason="manual steps")
        execution.save()
    return execution


# --- finishing ------------------------------------------------------------------------------


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
    last step included) unless it still holds that attempt."""
    with transaction.atomic():
        execution = _lock_with_parent(execution_id, parent_id)
        if worker:
            _check_held(execution, worker=worker, attempt=attempt, write="the finish")
        if last_step is not None:
            _store_step(execution, last_step, worker=worker, attempt_id=attempt_id)
        before = execution.status
        now = timezone.now()
        _close_attempt(execution, outcome if before != S.CANCELLING else S.CANCELLED, error)
        retry = (
            outcome != S.PASSED
            and before == S.RUNNING
            and execution.attempt_count <= execution.max_retries
        )
        if before == S.CANCELLING:
            execution.confirm_cancel(now=now)
        elif retry:
            backoff = execution.retry_backoff_seconds * 2 ** (execution.attempt_count - 1)
            execution.requeue(
                reason=f"{outcome}: {reason}; retrying",
                now=now,
                not_before=now + timedelta(seconds=backoff) if backoff else None,
            )
        else:
            execution.finish(outcome=outcome, reason=reason, now=now)
        event_transition(execution, before, actor=actor, actor_label=_label(worker), reason=reason)
        if retry:
            _new_attempt(execution, AttemptReason.RETRY)
        _save(execution)
        _after_change(execution)
    return execution


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
        execution = _lock_with_parent(execution_id)
        if worker:
            _check_held(execution, worker=worker, attempt=attempt, write="the time-out")
        elif not _overdue_unowned(execution, now):
            return None
        before = execution.status
        _close_attempt(execution, S.TIMED_OUT, {"type": "Timeout", "message": reason})
        execution.time_out(reason=reason, now=now)
        event_transition(execution, before, actor_label=_label(worker) or "reaper", reason=reason)
        _save(execution)
        _after_change(execution)
        if execution.is_suite_run:
            _cancel_children(execution, reason=f"suite run timed out: {reason}", actor=None)
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


def execution_cancel(execution_id: int, *, actor=None, reason: str = "") -> Execution:
    """Cancel: queued or pending -> cancelled at once; running -> cancelling, and the worker stops
    at the next step boundary (killing what it started) and confirms. A suite run cancels its
    active children and becomes cancelled when the last one has stopped.

    Raises InvalidTransition for a finished execution."""
    reason = reason or (f"cancelled by {actor.get_username()}" if actor else "cancelled")
    with transaction.atomic():
        execution = _lock_with_parent(execution_id)
        before = execution.status
        if execution.status == S.CANCELLING:
            return execution  # asked twice: already on its way
        if can_proceed(execution.cancel):
            _close_attempt(execution, S.CANCELLED)
            execution.cancel(reason=reason, now=timezone.now())
        elif can_proceed(execution.request_cancel):
            execution.request_cancel(reason=reason)
        else:
            raise InvalidTransition(
                f"Execution #{execution_id} is {execution.status}; nothing to cancel."
            )
        event_transition(execution, before, actor=actor, reason=reason)
        _save(execution)
        if execution.is_suite_run:
            # Stops the children; the suite becomes cancelled when the last one has stopped.
            _cancel_children(execution, reason=f"suite run cancelled: {reason}", actor=actor)
        elif execution.status == S.CANCELLING and not execution.worker:
            _confirm_cancel(execution, label="")  # awaiting input: no worker to confirm
        _after_change(execution)
    return execution


def _confirm_cancel(execution: Execution, *, label: str) -> None:
    _close_attempt(execution, S.CANCELLED)
    execution.confirm_cancel(now=timezone.now())
    event_transition(execution, S.CANCELLING, actor_label=label, reason=execution.status_reason)
    _save(execution)


def execution_confirm_cancel(execution_id: int, *, worker: str, attempt: int | None) -> Execution:
    """The worker stopped a cancelling execution: cancelling -> cancelled. Raises LeaseLost
    unless `worker` still holds `attempt`."""
    with transaction.atomic():
        execution = _lock_with_parent(execution_id)
        _check_held(execution, worker=worker, attempt=attempt, write="the cancel confirmation")
        if execution.status != S.CANCELLING:
            return execution
        _confirm_cancel(execution, label=_label(worker))
        _after_change(execution)
    return execution


def execution_rerun(execution_id: int, *, actor=None, only_failed: bool = False) -> Execution:
    """A new attempt of a finished execution. For a suite run, `only_failed` re-runs only the
    children that did not pass; the others keep their results. Raises InvalidTransition while the
    execution is still active."""
    with transaction.atomic():
        execution = _lock_with_parent(execution_id)
        if execution.parent_id and execution.parent.status not in TERMINAL:
            raise InvalidTransition("Its suite run is still active; re-run the suite run instead.")
        _rerun(execution, actor=actor, only_failed=only_failed, label="re-run")
    return execution


def _rerun(execution: Execution, *, actor, only_failed: bool, label: str) -> None:
    if execution.status not in TERMINAL:
        raise InvalidTransition(
            f"Execution #{execution.pk} is {execution.status}; it is not finished."
        )
    if only_failed and not execution.is_suite_run and execution.status == S.PASSED:
        raise InvalidTransition(f"Execution #{execution.pk} passed; nothing failed to re-run.")
    if (
        only_failed
        and execution.is_suite_run
        and not execution.children.filter(status__in=(*FAILING, S.CANCELLED)).exists()
    ):
        raise InvalidTransition(f"Suite run #{execution.pk} has no failed children to re-run.")
    before = execution.status
    execution.rerun(now=timezone.now(), only_failed=only_failed)
    event_transition(execution, before, actor=actor, reason=label)
    _new_attempt(execution, AttemptReason.RERUN, actor)
    if execution.is_suite_run:
        _suite_fan_out(execution, actor=actor)
    execution.save()
    if execution.status == S.QUEUED:
        ring_doorbell()


# --- recovery (the reaper) ------------------------------------------------------------------


def execution_recover_lost(execution_id: int, *, now=None) -> Execution | None:
    """The worker of a running execution stopped heartbeating: re-queue it as a new attempt
    (reason "worker lost"), or fail it when it has been lost too often. Re-checks the lease under
    the lock, so two reapers (or a worker that comes back) cannot both act."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.IB_LEASE_SECONDS)
    with transaction.atomic():
        execution = _lock_with_parent(execution_id)
        if execution.status not in (S.RUNNING, S.CANCELLING) or not execution.worker:
            return None
        if execution.heartbeat_at and execution.heartbeat_at >= stale_before:
            return None
        lost_worker, before = execution.worker, execution.status
        reason = f"worker {lost_worker} stopped heartbeating"
        lost = execution.attempts.filter(reason=AttemptReason.WORKER_LOST).count()
        if before == S.CANCELLING:
            _close_attempt(execution, S.CANCELLED, {"type": "WorkerLost", "message": reason})
            execution.confirm_cancel(now=now)
        elif lost < MAX_WORKER_LOST_REQUEUES:
            _close_attempt(execution, S.ERROR, {"type": "WorkerLost", "message": reason})
            execution.requeue(reason=reason, now=now)
        else:
            _close_attempt(execution, S.ERROR, {"type": "WorkerLost", "message": reason})
            execution.fail_lost(reason=f"{reason}; lost {lost + 1} times, giving up", now=now)
        event_transition(execution, before, actor_label="reaper", reason=reason)
        if execution.status == S.QUEUED:
            _new_attempt(execution, AttemptReason.WORKER_LOST)
        _save(execution)
        _after_change(execution)
    log.warning("recovered execution %s from lost worker %s", execution_id, lost_worker)
    return execution


def execution_release_due(execution_id: int) -> Execution | None:
    """pending -> queued once the not-before time has come (suite runs fan out then)."""
    with transaction.atomic():
        execution = locked(execution_id)
        if execution.status != S.PENDING:
            return None
        execution.release(timezone.now())
        event_transition(execution, S.PENDING, actor_label="scheduler", reason="not-before reached")
        if execution.is_suite_run:
            _suite_fan_out(execution)
        execution.save()
        ring_doorbell()
    return execution


# --- shared helpers -------------------------------------------------------------------------


def _lock_with_parent(execution_id: int, parent_id=UNKNOWN) -> Execution:
    """Lock the parent (if any) first, then the execution: the one lock order. A caller that
    knows the parent (it never changes) passes it and saves a lookup."""
    if parent_id is UNKNOWN:
        parent_id = (
            Execution.objects.filter(pk=execution_id).values_list("parent_id", flat=True).get()
        )
    if parent_id:
        locked(parent_id)
    return locked(execution_id)


def _label(worker: str) -> str:
    return f"worker {worker}" if worker else ""


def _save(execution: Execution) -> None:
    """Save a changed execution. A finish records its result first (_record_results), so the
    row's `rolled_up` mark goes out in the same UPDATE as the finish itself."""
    if execution.is_terminal and not execution.rolled_up:
        _record_results(execution)
    execution.save()


def _after_change(execution: Execution) -> None:
    """What follows any change of an execution, in the same transaction."""
    if execution.status in (S.QUEUED,):
        ring_doorbell()
    if execution.is_terminal:
        # A slot freed up. Workers drain the queue, so only a claim that was refused for want of
        # a slot (a suite's max_parallel, a project's limit) may have left work without a doorbell.
        limited = execution.parent_id or execution.project.max_concurrency is not None
        if limited and _has_queued_work():
            ring_doorbell()
    if execution.parent_id and execution.is_terminal:
        _child_finished(execution)


def _has_queued_work() -> bool:
    return claimable_exists()


def _child_finished(child: Execution) -> None:
    """Fail-fast and the suite rollup. The parent row is locked (see _lock_with_parent), so two
    children finishing at the same instant are serialized here: exactly one sees no sibling still
    active and rolls the suite up."""
    parent = Execution.objects.get(pk=child.parent_id)  # already locked by this transaction
    if parent.is_terminal:
        return
    quarantined = child.test_case.quarantined if child.test_case_id else False
    if (
        parent.fail_fast
        and child.status in FAILING
        and not quarantined
        and parent.status == S.RUNNING
    ):
        _cancel_children(parent, reason=f"fail-fast: child #{child.pk} {child.status}", actor=None)
    if parent.children.filter(status__in=ACTIVE).exists():
        return
    _suite_roll_up(parent)


def _suite_roll_up(parent: Execution) -> None:
    before = parent.status
    now = timezone.now()
    children = list(parent.children.select_related("test_case"))
    counted = [c for c in children if not (c.test_case and c.test_case.quarantined)]
    counts: dict[str, int] = {}
    for c in children:
        counts[c.status] = counts.get(c.status, 0) + 1
    parent.summary = {**parent.summary, "children": len(children), "counts": counts}
    if before == S.CANCELLING:
        _close_attempt(parent, S.CANCELLED)
        parent.confirm_cancel(now=now)
    else:
        failed = [c for c in counted if c.status in (S.FAILED, S.TIMED_OUT)]
        broken = [c for c in counted if c.status in (S.ERROR, S.CANCELLED)]
        if failed:
            outcome, reason = S.FAILED, f"{len(failed)} of {len(children)} cases failed"
        elif broken:
            outcome, reason = (
                S.ERROR,
                f"{len(broken)} of {len(children)} cases errored or were cancelled",
            )
        else:
            outcome, reason = S.PASSED, f"{len(children)} cases passed"
        _close_attempt(parent, outcome)
        parent.finish(outcome=outcome, reason=reason, now=now)
    event_transition(parent, before, actor_label="suite rollup", reason=parent.status_reason)
    _save(parent)


def _cancel_children(parent: Execution, *, reason: str, actor) -> None:
    for child_id in (
        parent.children.filter(status__in=ACTIVE).order_by("id").values_list("id", flat=True)
    ):
        child = locked(child_id)
        before = child.status
        if can_proceed(child.cancel):
            _close_attempt(child, S.CANCELLED)
            child.cancel(reason=reason, now=timezone.now())
        elif can_proceed(child.request_cancel):
            child.request_cancel(reason=reason)
        else:
            continue
        event_transition(child, before, actor=actor, reason=reason)
        _save(child)
        if child.status == S.CANCELLING and not child.worker:
            _confirm_cancel(child, label="")  # awaiting input: no worker to confirm
    if parent.status == S.CANCELLING and not parent.children.filter(status__in=ACTIVE).exists():
        _suite_roll_up(parent)


def _record_results(execution: Execution) -> None:
    """In the finishing transaction, before the finish is saved: record the result (statistics,
    history, flaky scores) and mark the execution `rolled_up` in memory; _save writes the mark
    with the finish.

    Same transaction, so a finished execution and its result commit together with one commit
    instead of two (a worker's throughput is mostly commits and round trips). Inside a savepoint,
    so a failure here rolls back only the result and never the finish; the execution then stays
    not rolled up and the backstop task (results.processing.process_pending) records it later."""
    from results.processing import record_finish

    try:
        with transaction.atomic():
            record_finish(execution)
    except Exception:
        execution.rolled_up = False
        log.exception("result processing failed for execution %s", execution.pk)
