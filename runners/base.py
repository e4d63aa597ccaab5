"""What every runner shares: the result type, the step recorder, and running one step."""

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from executions.attachments import discard_attachments
from executions.errors import InvalidTransition
from executions.outcome import StepOutcome, StepStatus
from runners.context import Cancelled, RunContext, StopKind

MAX_TRACEBACK_CHARS = 4000


@dataclass
class RunResult:
    outcome: str  # an ExecutionStatus outcome: passed / failed / error
    reason: str = ""
    awaiting_input: bool = False


class StepRecorder:
    """Sends each step result to the engine through the two writes it is handed (the engine's
    recorder_for binds them to executions.services.worker_writes): runners import no services. A
    write that is refused (InvalidTransition: the lease was lost) stops the run.

    A runner marks the run's last step (`last=True`): the recorder holds it, and the engine
    stores it with the finish, in the finishing transaction (one transaction less per run; the
    step is shown when the run ends, which is a moment later). `flush` stores a held step on its
    own, for a run that ends any other way."""

    def __init__(
        self,
        ctx: RunContext,
        *,
        store_step: Callable[[dict], dict],
        set_total: Callable[[int], object],
    ) -> None:
        self.ctx = ctx
        self._store_step = store_step
        self._set_total = set_total
        self.held: dict | None = None

    def total(self, count: int) -> None:
        try:
            self._set_total(count)
        except InvalidTransition as exc:
            self._abandon(exc)

    def record(self, step: dict, *, last: bool = False) -> dict:
        self.flush()
        if last:
            self.held = {**step, "attempt": self.ctx.attempt_number}
            return self.held
        try:
            return self._store_step(step)
        except InvalidTransition as exc:
            discard_attachments(step)  # the step was not stored: keep no orphan file
            self._abandon(exc)

    def _abandon(self, refused: Exception):
        """The service refused this worker's write (it no longer holds the attempt, or the run
        ended): stop the run here, killing what it started, and write nothing more."""
        self.ctx.request_stop(str(refused), StopKind.LEASE_LOST)
        raise Cancelled(str(refused), StopKind.LEASE_LOST) from None

    def take_held(self) -> dict | None:
        """The held last step, for the engine to store with the finish."""
        held, self.held = self.held, None
        return held

    def flush(self) -> None:
        held = self.take_held()
        if held is not None:
            self.record(held)


def error_from_exception(exc: BaseException, suggestion: str = "") -> dict:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    error = {
        "type": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "traceback": tb[-MAX_TRACEBACK_CHARS:],
    }
    if suggestion:
        error["suggestion"] = suggestion
    return error


def call_action(ctx: RunContext, run, params: dict, *, name: str, timeout: float | None):
    """Run one action with its timeout watched by the watchdog. Returns (outcome, elapsed).

    A stop requested while the action ran wins over whatever the action returned or raised:
    killing a process or a browser to cancel makes the action fail, and that failure is not the
    step's fault."""
    ctx.check_cancel()  # stopped before it started: the step never ran
    started = time.monotonic()
    ctx.current_step = (name, started, timeout)
    try:
        try:
            outcome = run(ctx, params)
        except Cancelled:
            raise
        except Exception as exc:
            ctx.check_cancel()
            outcome = StepOutcome(status=StepStatus.ERROR, error=error_from_exception(exc))
        finally:
            ctx.current_step = None
        ctx.check_cancel()
    except Cancelled as stop:
        stop.started = True  # the action was called: it may have had effects
        raise
    return outcome, time.monotonic() - started


def interrupted_outcome(stop: Cancelled) -> StepOutcome | None:
    """The record of a step a stop interrupted; None when the run is no longer ours (lease lost:
    nothing may be written).

    A cancel: `skipped` if the step never started; what the action says happened if it knows
    (an HTTP request whose response came back is recorded with it); else `interrupted`. A
    deadline or step timeout: `error`, with what the action knows as `actual`."""
    known = stop.outcome
    if stop.kind in (StopKind.STEP_TIMEOUT, StopKind.TIMEOUT):
        kind = "StepTimeout" if stop.kind == StopKind.STEP_TIMEOUT else "Timeout"
        return StepOutcome(
            status=StepStatus.ERROR,
            actual=known.actual if known else None,
            error={"type": kind, "message": stop.reason},
            attachments=known.attachments if known else [],
        )
    if stop.kind != StopKind.CANCEL:
        return None
    if known is not None:
        return known
    if not stop.started:
        return StepOutcome(
            status=StepStatus.SKIPPED,
            actual=f"not run: {stop.reason}",
            error={"type": "Cancelled", "message": stop.reason},
        )
    return StepOutcome(
        status=StepStatus.INTERRUPTED,
        actual=f"interrupted: {stop.reason}",
        error={"type": "Cancelled", "message": stop.reason},
    )
