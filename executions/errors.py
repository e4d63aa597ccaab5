from core.errors import Conflict, DomainError


class ExecutionError(DomainError):
    code = "execution_invalid"


class NotRunnable(ExecutionError):
    code = "not_runnable"


class InvalidTransition(Conflict):
    code = "transition_not_allowed"


class QueuePaused(Conflict):
    code = "queue_paused"


class LeaseLost(InvalidTransition):
    """A worker-side write from a caller that no longer holds the execution: the lease was
    recovered and the run re-queued (perhaps already claimed by another worker as a new attempt),
    or the run ended meanwhile. The caller must write nothing more and abandon the run."""

    code = "lease_lost"


class StaleAttempt(InvalidTransition):
    """A person's write for an attempt that is no longer the current one (a manual step form
    posted for attempt 1 after attempt 2 started)."""

    code = "stale_attempt"


class ReportedBatchConflict(Conflict):
    """A reported run's batch id sent again with other results."""

    code = "batch_conflict"
