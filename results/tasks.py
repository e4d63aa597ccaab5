"""django-q2 entry points of the results app: thin, idempotent, scheduled in results.apps."""

from results import processing, retention


def prune() -> dict:
    """Daily: traces and events past each project's retention."""
    return retention.prune_results()


def process_pending() -> int:
    """Every few minutes: finishes whose result processing never ran (a worker died after the
    commit). Processing is idempotent, so overlapping with the engine's own call is harmless."""
    return processing.process_pending()
