"""Recording events: every transition and step result is a row, published after commit by the
live app (its receiver of executions.signals.events_recorded)."""

from executions.models import EventKind, Execution, ExecutionEvent
from executions.signals import events_recorded


def event_record(execution: Execution, **fields) -> ExecutionEvent:
    """Append an event to the execution's log and publish it on commit (`fields` as event_build
    takes them: kind, from_status, to_status, actor, actor_label, reason, data, attempt_number).

    The caller holds the execution row locked (select_for_update) inside transaction.atomic(), which
    is what makes `seq` gap-free and ordered, and saves the execution (with `event_seq`) after
    recording: one write of the execution row per change instead of two. A caller that forgot
    would hit the unique (execution, seq) constraint on its next event, never lose one silently.
    """
    execution.event_seq += 1
    return events_insert(execution, [event_build(execution, execution.event_seq, **fields)])[0]


def event_build(
    execution: Execution,
    seq: int,
    *,
    kind: str,
    from_status: str = "",
    to_status: str = "",
    actor=None,
    actor_label: str = "",
    reason: str = "",
    data: dict | None = None,
    attempt_number: int | None = None,
) -> ExecutionEvent:
    """An event of `execution` with sequence number `seq`, not yet saved (see events_insert)."""
    return ExecutionEvent(
        execution=execution,
        project_id=execution.project_id,
        seq=seq,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label or (actor.get_username() if actor is not None else ""),
        attempt_number=attempt_number or execution.attempt_count or None,
        reason=reason,
        data=data or {},
    )


def events_insert(execution: Execution, events: list[ExecutionEvent]) -> list[ExecutionEvent]:
    """Save built events of one execution in one INSERT and announce them (events_recorded).
    Their `seq` numbers are the caller's to reserve (event_record does it one at a time)."""
    if len(events) == 1:
        events[0].save()
    else:
        ExecutionEvent.objects.bulk_create(events)
    events_recorded.send(sender=ExecutionEvent, execution=execution, events=events)
    return events


def event_transition(
    execution: Execution, from_status: str, *, actor=None, actor_label="", reason=""
):
    return event_record(
        execution,
        kind=EventKind.TRANSITION,
        from_status=from_status,
        to_status=execution.status,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
    )
