"""What a step produced, and the trace entry it becomes. Runners build these; manual runs too;
executions.traces stores them."""

from dataclasses import dataclass, field

from django.utils import timezone

MAX_VALUE_CHARS = 20_000


class StepStatus:
    """Step statuses (plain strings inside JSON traces; listed here so code never spells them)."""

    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    BLOCKED = "blocked"
    WARNING = "warning"
    UNDEFINED = "undefined"
    # Stopped (a cancel) while it ran: it may have had effects (a request sent, a process
    # started), so it is not "skipped", which means it never started.
    INTERRUPTED = "interrupted"

    ALL = (
        PENDING,
        RUNNING,
        PASSED,
        FAILED,
        ERROR,
        SKIPPED,
        BLOCKED,
        WARNING,
        UNDEFINED,
        INTERRUPTED,
    )
    # A step with one of these statuses makes its execution fail (failed) or error (the others).
    FAILING = (FAILED,)
    BROKEN = (ERROR, UNDEFINED, BLOCKED)


@dataclass
class StepOutcome:
    """The result of one action call. `actual` is what was observed; `error` explains a failure."""

    status: str = StepStatus.PASSED
    actual: object = None
    error: dict | None = None
    attachments: list[dict] = field(default_factory=list)
    captured: dict = field(default_factory=dict)
    children: list[dict] = field(default_factory=list)

    @classmethod
    def failed(cls, message: str, *, actual: object = None, suggestion: str = "") -> "StepOutcome":
        error = {"type": "AssertionError", "message": message}
        if suggestion:
            error["suggestion"] = suggestion
        return cls(status=StepStatus.FAILED, actual=actual, error=error)


def trimmed(value: object, limit: int = MAX_VALUE_CHARS) -> object:
    """Keep traces readable and rows small: long text is cut, with a note of how much."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... [{len(value) - limit} more characters]"
    if isinstance(value, dict):
        return {k: trimmed(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [trimmed(v, limit) for v in value[:1000]]
    return value


def step_record(
    *,
    order: int,
    name: str,
    kind: str,
    outcome: StepOutcome,
    started_at,
    elapsed: float,
    input: object = None,
    expected: object = None,
) -> dict:
    """The trace entry of one step: the shape every runner writes and every reader expects."""
    return {
        "order": order,
        "name": name,
        "kind": kind,
        "status": outcome.status,
        "started_at": started_at.isoformat(),
        "finished_at": timezone.now().isoformat(),
        "duration_ms": round(elapsed * 1000),
        "input": trimmed(input),
        "expected": trimmed(expected),
        "actual": trimmed(outcome.actual),
        "error": outcome.error,
        "attachments": outcome.attachments,
        **({"children": outcome.children} if outcome.children else {}),
    }
