from executions.models.attachments import Attachment
from executions.models.reported import ReportedBatch
from executions.models.runs import (
    ACTIVE,
    LEASED,
    OUTCOMES,
    TERMINAL,
    Attempt,
    AttemptReason,
    EventKind,
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    Priority,
    QueueState,
    Trigger,
)
from executions.models.schedules import RunSchedule
from executions.models.traces import StepRecord, Trace, TraceStorage

__all__ = [
    "ACTIVE",
    "LEASED",
    "OUTCOMES",
    "TERMINAL",
    "Attachment",
    "Attempt",
    "AttemptReason",
    "EventKind",
    "Execution",
    "ExecutionEvent",
    "ExecutionStatus",
    "Priority",
    "QueueState",
    "ReportedBatch",
    "RunSchedule",
    "StepRecord",
    "Trace",
    "TraceStorage",
    "Trigger",
]
