"""How an execution changes state: the ritual every service follows, written once.

A service opens one transaction, locks (lock_with_parent: a suite run before its children, the
one lock order that keeps two services from deadlocking), checks what only it can judge (the
worker still holds its attempt: check_held; the reaper's rules), and calls `transition`, which
does the rest in this order:

1. check that the locked row's status allows the transition (InvalidTransition, a 409, if not);
2. run it: a django-fsm method that changes the execution in memory only;
3. close the current attempt with its outcome;
4. record the transition event (its `seq` is gap-free because the row is locked);
5. start the next attempt, when the change is a retry, a recovery or a re-run;
6. record the result of a finish (lifecycle._record_results) so its mark goes out with it;
7. save once, naming the columns: the transition's own (`writes` on the model), the counters of
   the events and attempts, the result mark, and any auto_now column;
8. ring the queue's doorbell when work became claimable or a slot came free.

What a change means for the rest of a suite run is executions.services.suites; the services call
it after the ritual. `insert_new` is the ritual of the one change that is not a transition: a new
execution, queued or pending.
"""

import logging

from django.db.models import Model
from django.utils import timezone
from django_fsm import can_proceed

from executions.errors import InvalidTransition, LeaseLost
from executions.models import (
    LEASED,
    Attempt,
    AttemptReason,
    EventKind,
    Execution,
    ExecutionStatus,
)
from executions.services.events import event_build, event_record, event_transition, events_insert
from executions.services.lifecycle import _has_queued_work, _record_results, locked
from executions.services.queue import ring_doorbell

log = logging.getLogger(__name__)
S = ExecutionStatus
# A caller that does not know an execution's suite run (parent) passes nothing: it is looked up.
UNKNOWN = object()


def auto_now_fields(model: type[Model]) -> tuple[str, ...]:
    """The columns Django sets on every save (auto_now). An UPDATE with update_fields writes only
    the columns it names, so the ritual names these too, or they would never move."""
    return tuple(
        field.name for field in model._meta.concrete_fields if getattr(field, "auto_now", False)
    )


AUTO_NOW = auto_now_fields(Execution)


def lock_with_parent(execution_id: int, parent_id=UNKNOWN) -> Execution:
    """Lock the parent (if any) first, then the execution: the one lock order. A caller that
    knows the parent (it never changes) passes it and saves a lookup."""
    if parent_id is UNKNOWN:
        parent_id = (
            Execution.objects.filter(pk=execution_id).values_list("parent_id", flat=True).get()
        )
    if parent_id:
        locked(parent_id)
    return locked(execution_id)


def check_held(execution: Execution, *, worker: str, attempt: int | None, write: str) -> None:
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


def label(worker: str) -> str:
    """How an event names the worker that caused it."""
    return f"worker {worker}" if worker else ""


def transition(
    execution: Execution,
    change,
    arguments: dict,
    *,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    close_attempt: str = "",
    attempt_error: dict | None = None,
    new_attempt: str = "",
    fields: tuple[str, ...] = (),
) -> None:
    """Make one change of state of `execution`, which the caller holds locked inside
    transaction.atomic(): `change` is the bound transition (execution.finish) and `arguments`
    its keyword arguments. `actor`, `actor_label` and `reason` go to the event;
    `close_attempt` is the current attempt's outcome (with `attempt_error`) when the change ends
    it; `new_attempt` the reason of the attempt that follows (a retry, a recovery, a re-run);
    `fields` the columns the caller changed itself in the same transaction (the summary).

    Raises InvalidTransition when the execution's status does not allow `change`; nothing is
    written then."""
    if not can_proceed(change):
        raise InvalidTransition(
            f"Execution #{execution.pk} is {execution.status}; it cannot"
            f" {change.__name__.replace('_', ' ')}."
        )
    before = execution.status
    change(**arguments)
    if close_attempt:
        _close_attempt(execution, close_attempt, attempt_error)
    event_transition(execution, before, actor=actor, actor_label=actor_label, reason=reason)
    written = {"status", "event_seq", *change.writes, *fields}
    if new_attempt:
        _new_attempt(execution, new_attempt, actor)
        written.add("attempt_count")
    if execution.is_terminal and not execution.rolled_up:
        # A finish records its result first, so its `rolled_up` mark goes out with the finish
        # itself, and the 60-second backstop (results.processing.process_pending) stays a
        # backstop.
        _record_results(execution)
        written.add("rolled_up")
    execution.save(update_fields=[*sorted(written), *AUTO_NOW])
    _ring(execution, before)


def insert_new(execution: Execution, *, actor, reason: str) -> None:
    """INSERT a new execution with its first attempt and its first two events (created, first
    attempt): three statements, and the doorbell when a case run is queued. Its counters are set
    before the INSERT, so the row needs no second write (this is on every API call that starts a
    run, and once per suite child)."""
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
    _ring(execution, before="")


def _new_attempt(execution: Execution, reason: str, actor) -> Attempt:
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


def _close_attempt(execution: Execution, outcome: str, error: dict | None) -> None:
    Attempt.objects.filter(execution=execution, number=execution.attempt_count).update(
        outcome=outcome, finished_at=timezone.now(), error=error
    )


def _ring(execution: Execution, before: str) -> None:
    """The doorbell for what a change made claimable. A suite run is never claimed (its children
    are, and ring for themselves)."""
    if execution.test_case_id is None:
        return
    if execution.status == S.QUEUED:
        ring_doorbell()
    elif before in LEASED and execution.status not in LEASED:
        # A slot came free. Workers drain the queue, so only a claim refused for want of a slot
        # (a suite's max_parallel, a project's limit) may have left work without a doorbell.
        limited = execution.parent_id or execution.project.max_concurrency is not None
        if limited and _has_queued_work():
            ring_doorbell()
