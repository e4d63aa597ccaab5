from intellibrowse.errors import Conflict, DomainError


class ExecutionError(DomainError):
    code = "execution_invalid"


class NotRunnable(ExecutionError):
    code = "not_runnable"


class InvalidTransition(Conflict):
    code = "transition_not_allowed"


class QueuePaused(Conflict):
    code = "queue_paused"
