"""Worker liveness: each worker process's watchdog reports here on every heartbeat.

Read by the queue page, the metrics ("workers last seen"), the readiness check and the
"no worker alive" and "queue stuck" alerts. Execution leases (Execution.heartbeat_at) are the
engine's business; this is only the operator's view of which processes are up, and whether the
ones that are up take the work waiting for them (queue_stuck).
"""

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from executions.selectors import queue_overdue
from monitoring.models import WorkerHeartbeat

log = logging.getLogger(__name__)

# Rows of workers gone this long are deleted (by the alert evaluator), so the table stays small.
FORGET_AFTER = timedelta(days=7)


def worker_seen(worker_id: str, running_ids, idle_since: datetime | None = None) -> None:
    """Record that `worker_id` ("host:pid") is alive and runs `running_ids`, and since when it has
    run nothing (`idle_since`, None while it runs something).

    Called by engine.watchdog on each heartbeat. Never raises: liveness reporting must not stop
    the watchdog from reaping."""
    host, _, pid = worker_id.rpartition(":")
    try:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id,
            defaults={
                "host": host or socket.gethostname(),
                "pid": int(pid) if pid.isdigit() else os.getpid(),
                "last_seen": timezone.now(),
                "running": sorted(int(i) for i in running_ids),
                "idle_since": idle_since,
            },
        )
    except Exception:
        log.exception("could not record that worker %s is alive", worker_id)


def worker_gone(worker_id: str) -> None:
    """Forget `worker_id` at once: its watchdog stopped with the process, so the dashboard need not
    wait for the staleness window to call it gone. Never raises, like worker_seen."""
    try:
        WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
    except Exception:
        log.exception("could not record that worker %s stopped", worker_id)


def alive_after():
    return timezone.now() - timedelta(seconds=settings.IB_WORKER_ALIVE_SECONDS)


def workers_alive() -> QuerySet[WorkerHeartbeat]:
    return WorkerHeartbeat.objects.filter(last_seen__gte=alive_after())


def workers_idle(longer_than: timedelta, now=None) -> QuerySet[WorkerHeartbeat]:
    """Alive workers that have run nothing for longer than `longer_than`."""
    now = now or timezone.now()
    return workers_alive().filter(idle_since__lte=now - longer_than)


@dataclass(frozen=True)
class StuckQueue:
    waiting: int  # executions that could start (among the first the claim would try)
    oldest_seconds: float
    idle_workers: int


def queue_stuck(now=None) -> StuckQueue | None:
    """Work that could start has waited longer than the lease time while a live worker has sat
    idle for as long: the workers are not taking it (a jammed worker cluster, a broker that
    delivers nothing). None otherwise: busy workers with a backlog, work held back by the pause
    or by limits, and no worker at all (the no_worker alert) are not stuck.

    Read by the readiness check (`queue`), the queue_stuck alert and /metrics."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.IB_LEASE_SECONDS)
    idle = workers_idle(lease, now).count()
    if not idle:
        return None
    overdue = queue_overdue(lease, now)
    if overdue is None:
        return None
    return StuckQueue(
        waiting=overdue["count"],
        oldest_seconds=round((now - overdue["oldest"]).total_seconds(), 1),
        idle_workers=idle,
    )


def workers_recent(hours: int = 24) -> list[dict]:
    """Workers seen in the last `hours`, newest first, each marked alive or not."""
    threshold = alive_after()
    since = timezone.now() - timedelta(hours=hours)
    return [
        {
            "worker_id": w.worker_id,
            "host": w.host,
            "pid": w.pid,
            "started_at": w.started_at,
            "last_seen": w.last_seen,
            "seconds_ago": round((timezone.now() - w.last_seen).total_seconds(), 1),
            "alive": w.last_seen >= threshold,
            "running": w.running,
        }
        for w in WorkerHeartbeat.objects.filter(last_seen__gte=since)
    ]


def workers_forget_gone() -> int:
    return WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - FORGET_AFTER).delete()[0]
