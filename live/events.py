"""Typed payloads of the live feed. Clients get ids, statuses and a sequence number; detail over REST."""

from typing import Literal, TypedDict

from django.utils import timezone

from executions.models import EventKind, Execution, ExecutionEvent


class StepSummary(TypedDict):
    order: int
    name: str
    kind: str
    status: str
    duration_ms: int | None


class ExecutionEventPayload(TypedDict):
    type: Literal["execution.event"]
    event_id: int
    execution: int
    project: int
    parent: int | None
    seq: int
    kind: str
    status: str
    from_status: str
    to_status: str
    attempt: int | None
    reason: str
    step: StepSummary | None
    summary: dict
    at: str


def event_payload(event: ExecutionEvent, execution: Execution) -> ExecutionEventPayload:
    step = event.data.get("step") if event.kind == EventKind.STEP else None
    return ExecutionEventPayload(
        type="execution.event",
        event_id=event.pk,
        execution=execution.pk,
        project=execution.project_id,
        parent=execution.parent_id,
        seq=event.seq,
        kind=event.kind,
        status=execution.status,
        from_status=event.from_status,
        to_status=event.to_status,
        attempt=event.attempt_number,
        reason=event.reason,
        step=StepSummary(**step) if step else None,
        summary=execution.summary,
        at=(event.created_at or timezone.now()).isoformat(),
    )
