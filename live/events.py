"""Typed payloads of the live feed. Clients get ids, statuses and a sequence number; detail over REST."""

from typing import Literal, TypedDict


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
