"""What people ask of a run once it exists: cancel it, run it again. The API, the admin, the
dashboard and the management commands all call these."""

from django.db import transaction

from executions.errors import InvalidTransition, NotRunnable
from executions.models import TERMINAL, Execution, Trigger
from executions.services.suites import after_change, cancel, rerun
from executions.services.transitions import lock_with_parent


def execution_cancel(execution_id: int, *, actor=None, reason: str = "") -> Execution:
    """Cancel: queued or pending -> cancelled at once; running -> cancelling, and the worker stops
    at the next step boundary (killing what it started) and confirms. A suite run cancels its
    active children and becomes cancelled when the last one has stopped (suites.cancel).

    Raises InvalidTransition for a finished execution."""
    reason = reason or (f"cancelled by {actor.get_username()}" if actor else "cancelled")
    with transaction.atomic():
        execution = lock_with_parent(execution_id)
        cancel(execution, reason=reason, actor=actor)
        after_change(execution)
    return execution


def execution_rerun(execution_id: int, *, actor=None, only_failed: bool = False) -> Execution:
    """A new attempt of a finished execution. For a suite run, `only_failed` re-runs only the
    children that did not pass; the others keep their results. Raises InvalidTransition while the
    execution (or the suite run it belongs to) is still active, NotRunnable for a reported run
    (its tests ran in a CI job: there is nothing here to run again)."""
    with transaction.atomic():
        execution = lock_with_parent(execution_id)
        if execution.trigger == Trigger.REPORTED:
            raise NotRunnable(
                f"Execution #{execution_id} was reported from CI; re-run the CI job instead.",
                "reported_run",
            )
        if execution.parent_id and execution.parent.status not in TERMINAL:
            raise InvalidTransition("Its suite run is still active; re-run the suite run instead.")
        rerun(execution, actor=actor, only_failed=only_failed, label="re-run")
    return execution
