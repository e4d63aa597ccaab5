"""The queue: the database says what runs; django-q2 only rings the doorbell.

A doorbell is a task "claim and run the best queued execution". Ringing too often is harmless (a
claim that finds nothing returns), so every place that makes work claimable rings, and the
watchdog re-rings for claimable work that has waited too long (a task the broker lost).
"""

import functools
import logging

from django.db import transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task

from executions.models import QueueState

log = logging.getLogger(__name__)

DOORBELL = "executions.tasks.run_next"


def ring_doorbell(count: int = 1) -> None:
    """Enqueue `count` doorbell tasks once the current transaction commits."""
    transaction.on_commit(lambda: ring_doorbell_now(count))


def ring_doorbell_now(count: int = 1) -> None:
    """Enqueue doorbells now. A broker that is down (Redis restarting) must not fail the caller:
    the execution is committed, and the watchdog re-rings for claimable work nobody came for."""
    try:
        for _ in range(count):
            async_task(DOORBELL, q_options={"task_name": "run next execution", "broker": _broker()})
    except Exception:
        log.warning("could not ring the doorbell; the watchdog will re-ring", exc_info=True)


@functools.cache
def _broker():
    """One broker (one Redis connection pool) per process: django-q2 builds a new one, with a new
    connection, for every task otherwise. redis-py's pool notices a fork and reconnects."""
    return get_broker()


def queue_pause(*, actor=None, reason: str = "") -> QueueState:
    """Stop claiming new work (running executions carry on). Persisted across restarts."""
    with transaction.atomic():
        state = QueueState.objects.select_for_update().get_or_create(pk=1)[0]
        state.paused, state.reason, state.changed_at = True, reason, timezone.now()
        state.changed_by = actor if actor is not None and actor.is_authenticated else None
        state.save()
    return state


def queue_resume(*, actor=None) -> QueueState:
    from executions.selectors import queue_claimable_count

    with transaction.atomic():
        state = QueueState.objects.select_for_update().get_or_create(pk=1)[0]
        state.paused, state.reason = False, ""
        state.changed_by = actor if actor is not None and actor.is_authenticated else None
        state.save()
        waiting = queue_claimable_count()
        if waiting:
            ring_doorbell(min(waiting, 50))
    return state
