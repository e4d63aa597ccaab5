"""The queue: the database says what runs; django-q2 only rings the doorbell.

A doorbell is a task "claim and run the best queued execution". Ringing too often is harmless (a
claim that finds nothing returns), so every place that makes work claimable rings, and the
watchdog re-rings for claimable work that has waited too long (a task the broker lost).
"""

import functools
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task

from executions.models import QueueState
from executions.selectors import queue_claimable_count

log = logging.getLogger(__name__)

DOORBELL = "engine.tasks.run_next"


def ring_doorbell(count: int = 1) -> None:
    """Enqueue `count` doorbell tasks with the current transaction's work.

    ORM broker: inside the transaction. The doorbell is a row in the same database, so it commits
    (or fails) with the work it announces: one commit instead of two on every start of a run, and
    no moment in which the work is committed but its doorbell is not. Redis broker: once the
    transaction commits, so that no worker looks for the work before it is there; a Redis outage
    never fails the caller (the watchdog re-rings)."""
    if settings.Q_BROKER == "orm" and transaction.get_connection().in_atomic_block:
        _enqueue(count)
    else:
        transaction.on_commit(lambda: ring_doorbell_now(count))


def ring_doorbell_now(count: int = 1) -> None:
    """Enqueue doorbells now. A broker that is down (Redis restarting) must not fail the caller:
    the execution is committed, and the watchdog re-rings for claimable work nobody came for."""
    try:
        _enqueue(count)
    except Exception:
        log.warning("could not ring the doorbell; the watchdog will re-ring", exc_info=True)


def _enqueue(count: int) -> None:
    for _ in range(count):
        async_task(DOORBELL, q_options={"task_name": "run next execution", "broker": _broker()})


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
    """Take work again; rings once for each claimable execution (up to 50: each doorbell drains
    the queue)."""
    with transaction.atomic():
        state = QueueState.objects.select_for_update().get_or_create(pk=1)[0]
        state.paused, state.reason = False, ""
        state.changed_by = actor if actor is not None and actor.is_authenticated else None
        state.save()
        waiting = queue_claimable_count()
        if waiting:
            ring_doorbell(min(waiting, 50))
    return state
