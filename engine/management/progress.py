"""Waiting for an execution from a management command: a progress bar and an exit code for CI."""

import sys
import time

from engine import watchdog
from engine import worker as engine
from executions.models import Execution, ExecutionStatus

S = ExecutionStatus
# Exit codes a CI step can branch on.
EXIT_CODES = {
    S.PASSED: 0,
    S.FAILED: 1,
    S.ERROR: 2,
    S.TIMED_OUT: 3,
    S.CANCELLED: 4,
}
BAR_WIDTH = 30


def progress_of(execution: Execution) -> tuple[int, int]:
    """(done, total): children for a suite run, steps for a case run."""
    if execution.is_suite_run:
        children = execution.children.values_list("status", flat=True)
        total = len(children)
        return sum(
            1 for s in children if s in (S.PASSED, S.FAILED, S.ERROR, S.CANCELLED, S.TIMED_OUT)
        ), total
    summary = execution.summary or {}
    return summary.get("steps_done", 0), summary.get("steps_total", 0)


def render_bar(execution: Execution) -> str:
    done, total = progress_of(execution)
    filled = int(BAR_WIDTH * done / total) if total else 0
    unit = "cases" if execution.is_suite_run else "steps"
    return f"\r#{execution.pk} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} {unit} {execution.status:<14}"


def wait_for(execution_id: int, *, run_here: bool, poll: float = 0.2, out=sys.stderr) -> Execution:
    """Poll until the execution is finished, drawing a progress bar. With `run_here`, this process
    works the queue itself (no separate worker needed), with its own watchdog thread."""
    started_watchdog = run_here and watchdog.start()
    try:
        return _poll(execution_id, run_here=run_here, poll=poll, out=out)
    finally:
        if started_watchdog:
            watchdog.stop()


def _poll(execution_id: int, *, run_here: bool, poll: float, out) -> Execution:
    while True:
        execution = Execution.objects.get(pk=execution_id)
        out.write(render_bar(execution))
        out.flush()
        if execution.is_terminal:
            out.write("\n")
            return execution
        if execution.status == S.AWAITING_INPUT:
            out.write("\nwaiting for a person to record the manual steps on the dashboard...\n")
        if run_here and engine.run_next(worker=watchdog.worker_id(), drain=True):
            continue
        time.sleep(poll)
