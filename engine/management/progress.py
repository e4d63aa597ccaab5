"""Waiting for an execution from a management command: a progress bar and an exit code for CI."""

import logging
import os
import sys
import time
from contextlib import contextmanager

from django.core.management.base import CommandError

from engine import watchdog
from engine import worker as engine
from executions.models import Execution, ExecutionStatus
from executions.progress import execution_progress

S = ExecutionStatus
# Exit codes a CI step can branch on.
EXIT_CODES = {
    S.PASSED: 0,
    S.FAILED: 1,
    S.ERROR: 2,
    S.TIMED_OUT: 3,
    S.CANCELLED: 4,
}
# A mistyped project, case or suite, a bad option: nothing ran, which a CI step must not read as
# "the tests failed" (1). 64 is EX_USAGE of sysexits.h.
EXIT_USAGE = 64
BAR_WIDTH = 30


def public_url() -> str:
    """Where people reach the app: IB_PUBLIC_URL, read as the demo reads it (README)."""
    return (os.environ.get("IB_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


class UsageExitCodes:
    """A command mixin: argparse's own refusals (a missing or unknown option) exit EXIT_USAGE
    too, instead of argparse's 2, which is "the run errored" here."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def refuse(message):
            if not parser.called_from_command_line:
                raise usage_error(f"Error: {message}")
            parser.print_usage(sys.stderr)
            parser.exit(EXIT_USAGE, f"{parser.prog}: error: {message}\n")

        parser.error = refuse
        return parser


@contextmanager
def quiet_cluster_logs():
    """In `run` and `rerun`, django-q's INFO lines (the doorbell's "Enqueued", the worker's chatter
    with --here) would break up the command's output and progress bar: warnings and errors
    still show."""
    logger = logging.getLogger("django-q")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


# One character per outcome segment (executions.progress): a CI log has no colours.
BAR_MARKS = {"passed": "=", "failed": "F", "error": "E", "skipped": "s"}


def render_bar(execution: Execution) -> str:
    """ "#12 [==FF--------] 4/12 cases: 2 passed, 2 failed  running": the same counts, in the same
    outcome segments, as the dashboard's bars."""
    progress = execution_progress(execution)
    whole = max(progress.total, progress.done)
    marks = "".join(
        BAR_MARKS[name] * round(BAR_WIDTH * n / whole) for name, n in progress.counts.items() if n
    )[:BAR_WIDTH]
    bar = marks.ljust(BAR_WIDTH, "-")
    return f"\r#{execution.pk} [{bar}] {progress.label}  {execution.status:<14}"


def failed_children(execution: Execution) -> list[str]:
    """One line per child of a suite run that did not pass: its case, status and first error."""
    failing = execution.children.filter(status__in=(S.FAILED, S.ERROR, S.TIMED_OUT))
    lines = []
    for child in failing.select_related("test_case").order_by("id"):
        reason = next((line for line in child.status_reason.splitlines() if line.strip()), "")
        lines.append(f"  {child.test_case.key} #{child.pk} {child.status}: {reason}".rstrip(": "))
    return lines


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
    told = False
    while True:
        execution = Execution.objects.get(pk=execution_id)
        out.write(render_bar(execution))
        out.flush()
        if execution.is_terminal:
            out.write("\n")
            return execution
        if execution.status == S.AWAITING_INPUT and not told:
            told = True  # once, not at every poll
            url = f"{public_url()}/executions/{execution.pk}/manual/"
            out.write(f"\nwaiting for a person to record the manual steps: {url}\n")
        if run_here and engine.run_next(worker=watchdog.worker_id(), drain=True):
            continue
        time.sleep(poll)


def report_finished(finished: Execution, out) -> int:
    """The last lines of `run --wait` / `rerun --wait`: the outcome, for a suite run the cases
    that failed with their first error; returns the exit code."""
    out.write(f"execution #{finished.pk} {finished.status}: {finished.status_reason}")
    if finished.is_suite_run and (lines := failed_children(finished)):
        out.write("cases that did not pass:\n" + "\n".join(lines))
    return EXIT_CODES.get(finished.status, 2)
