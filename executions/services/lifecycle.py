"""The execution lifecycle's base: the row lock every service takes, and the result of a finish.
The claim (the only compare-and-swap on status) is executions.services.claim.

The services, one per change of state, live beside this module: create (execution_create),
running (what a worker writes about its run), people (cancel, re-run), reaper (time out, recover,
release); suites holds what a suite run does with its children, and transitions the ritual every
change follows (lock, check, transition, close the attempt, event, save, doorbell). The API, the
admin, the dashboard, the management commands and the worker tasks all call those services.

Lock order, to stay free of deadlocks: a suite run (parent) before its children; the project row
only inside the claim.
"""

import logging

from django.db import transaction

from executions.models import (
    Execution,
    ExecutionStatus,
)
from executions.rows import claimable_exists, lock_execution
from executions.signals import execution_finishing

log = logging.getLogger(__name__)
S = ExecutionStatus


def locked(execution_id: int, *, with_project: bool = True) -> Execution:
    """The execution, row-locked until the end of the current transaction (with its project
    loaded, unless the caller never needs it: a step record). See executions.rows."""
    return lock_execution(execution_id, with_project=with_project)


def _has_queued_work() -> bool:
    return claimable_exists()


def _record_results(execution: Execution) -> None:
    """In the finishing transaction, before the finish is saved: record the result (statistics,
    history, flaky scores) and mark the execution `rolled_up` in memory; _save writes the mark
    with the finish.

    Same transaction, so a finished execution and its result commit together with one commit
    instead of two (a worker's throughput is mostly commits and round trips). Inside a savepoint,
    so a failure here rolls back only the result and never the finish; the execution then stays
    not rolled up and the backstop task (results.processing.process_pending) records it later.
    The results app records it, through the execution_finishing signal (executions.signals)."""
    try:
        with transaction.atomic():
            execution_finishing.send(sender=Execution, execution=execution)
    except Exception:
        execution.rolled_up = False
        log.exception("result processing failed for execution %s", execution.pk)
