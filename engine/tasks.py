"""django-q2 entry points. Thin and idempotent: the broker may deliver a task twice or lose it;
the claim (a compare-and-swap in the database) decides what actually runs."""

from engine import watchdog
from engine import worker as engine
from executions.services.schedules import schedule_fire


def run_next() -> int | None:
    """Doorbell: claim and run the best queued executions until none is claimable."""
    return engine.run_next(worker=watchdog.worker_id(), drain=True)


def reap() -> dict:
    """Backstop schedule for the watchdog threads (see engine.watchdog)."""
    return watchdog.reap_once()


def run_schedule(schedule_id: int) -> int | None:
    """A RunSchedule's cron tick: start its run. Returns the execution id."""
    execution = schedule_fire(schedule_id)
    return execution.pk if execution else None
