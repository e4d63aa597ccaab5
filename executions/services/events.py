"""Recording events: every transition and step result is a row, published after commit by the
live app (its receiver of executions.signals.events_recorded)."""

from django.db import connection
from django.utils import timezone

from core.bulk import COPY_MIN_ROWS, insert_rows
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
    elif connection.vendor == "postgresql" and len(events) >= COPY_MIN_ROWS:
        _copy(execution, events)
    else:
        ExecutionEvent.objects.bulk_create(events)
    events_recorded.send(sender=ExecutionEvent, execution=execution, events=events)
    return events


def _copy(execution: Execution, events: list[ExecutionEvent]) -> None:
    """Many events (a reported run's batch: one per result) by COPY, their ids read back by
    sequence number: bulk_create spent most of a 1,000-result batch in psycopg's array dumper
    (bench/reporting.py). The ids are what the live payloads carry."""
    now = timezone.now()
    fields = [f for f in ExecutionEvent._meta.concrete_fields if not f.primary_key]
    rows = []
    for event in events:
        event.created_at = now
        rows.append({f.attname: getattr(event, f.attname) for f in fields})
    insert_rows(ExecutionEvent, rows)
    ids = dict(
        ExecutionEvent.objects.filter(
            execution=execution, seq__gte=events[0].seq, seq__lte=events[-1].seq
        ).values_list("seq", "id")
    )
    for event in events:
        event.pk = ids[event.seq]
        event._state.adding = False


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
