"""Worker liveness: each worker process's watchdog reports here on every heartbeat.

Read by the queue page, the metrics ("workers last seen"), the readiness check and the
"no worker alive" alert. Execution leases (Execution.heartbeat_at) are the engine's business; this
is only the operator's view of which processes are up.
"""

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from monitoring.models import WorkerHeartbeat

log = logging.getLogger(__name__)

# Rows of workers gone this long are deleted (by the alert evaluator), so the table stays small.
FORGET_AFTER = timedelta(days=7)


def worker_seen(worker_id: str, running_ids) -> None:
    """Record that `worker_id` ("host:pid") is alive and runs `running_ids`.

    Called by executions.watchdog on each heartbeat. Never raises: liveness reporting must not stop
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
