"""django-q2 entry points of the results app: thin, idempotent, scheduled in results.apps."""

from results import notify, processing, retention


def prune() -> dict:
    """Daily: traces and events past each project's retention."""
    return retention.prune_results()


def process_pending() -> int:
    """Every few minutes: finishes whose result processing never ran (a worker died after the
    commit). Processing is idempotent, so overlapping with the engine's own call is harmless."""
    return processing.process_pending()


def notify_run(kind: str, run_id: int) -> str:
    """On a run's finish (results.notify.notify_on_commit): announce what newly fails. Safe to
    deliver twice: the run's one notification is created once and claimed before each try."""
    return notify.notify_run(kind, run_id)


def send_due_notifications() -> int:
    """Every minute: retry the notifications whose backoff has passed."""
    return notify.notifications_send_due()
