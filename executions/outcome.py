"""What a step produced. Runners build these; executions.traces stores them."""

from dataclasses import dataclass, field


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
