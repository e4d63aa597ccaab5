"""Operational metrics, read from the database when asked (dashboard, /api/v1/metrics/, /metrics).

Counts run over case executions only: a suite run is a container whose children are counted
already. "Recent" means the last hour. Every figure here is one or two indexed queries, so a scrape
every 15 s costs little.
"""

import math
from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from executions.models import Execution, ExecutionStatus, Priority, QueueState
from monitoring.workers import workers_recent

S = ExecutionStatus
WINDOW = timedelta(hours=1)
THROUGHPUT_WINDOW_MINUTES = 15
FAILING = (S.FAILED, S.ERROR, S.TIMED_OUT)
# Enough finished runs for stable percentiles without loading a day of rows.
DURATION_SAMPLE = 5000


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def priority_label(value: int) -> str:
    try:
        return Priority(value).name.lower()
    except ValueError:
        return str(value)


def metrics_snapshot(*, project_ids=None) -> dict:
    """Queue, throughput, durations, failure rate and workers, for all projects or some."""
    now = timezone.now()
    runs = Execution.objects.filter(test_case__isnull=False)
    if project_ids is not None:
        runs = runs.filter(project_id__in=project_ids)

    queued = runs.filter(status=S.QUEUED)
    depth = {
        priority_label(row["priority"]): row["n"]
        for row in queued.values("priority").annotate(n=Count("id")).order_by("-priority")
    }
    claimable = queued.filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
    oldest = claimable.aggregate(oldest=Min("queued_at"))["oldest"]

    recent = runs.filter(finished_at__gte=now - WINDOW)
    outcomes = {
        row["status"]: row["n"]
        for row in recent.values("status").annotate(n=Count("id")).order_by()
    }
    judged = sum(outcomes.get(s, 0) for s in (S.PASSED, *FAILING))
    failing = sum(outcomes.get(s, 0) for s in FAILING)
    per_minute = runs.filter(
        finished_at__gte=now - timedelta(minutes=THROUGHPUT_WINDOW_MINUTES)
    ).count()

    durations = [
        (finished - started).total_seconds()
        for started, finished in recent.filter(started_at__isnull=False)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:DURATION_SAMPLE]
    ]
    workers = workers_visible(project_ids)
    return {
        "generated_at": now.isoformat(),
        "queue": {
            "paused": QueueState.get().paused,
            "depth": sum(depth.values()),
            "depth_by_priority": depth,
            "delayed": runs.filter(status=S.PENDING).count(),
            "oldest_queued_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
        },
        "running": runs.filter(status__in=(S.RUNNING, S.CANCELLING)).count(),
        "awaiting_input": runs.filter(status=S.AWAITING_INPUT).count(),
        "throughput_per_minute": round(per_minute / THROUGHPUT_WINDOW_MINUTES, 2),
        "last_hour": {
            "finished": sum(outcomes.values()),
            "by_outcome": outcomes,
            "failure_rate": round(failing / judged, 4) if judged else None,
            "duration_p50_seconds": _rounded(percentile(durations, 0.50)),
            "duration_p95_seconds": _rounded(percentile(durations, 0.95)),
        },
        "workers": {
            "alive": sum(1 for w in workers if w["alive"]),
            "recent": [_jsonable_worker(w) for w in workers],
        },
    }


def workers_visible(project_ids=None) -> list[dict]:
    """Recent workers, all of them when `project_ids` is None. Otherwise only the workers running
    executions of `project_ids`, their running lists cut down to those: how many workers there
    are and what they run elsewhere is another project's business."""
    workers = workers_recent()
    if project_ids is None:
        return workers
    running = {i for w in workers for i in w["running"]}
    visible = set(
        Execution.objects.filter(pk__in=running, project_id__in=project_ids).values_list(
            "pk", flat=True
        )
    )
    shown = [{**w, "running": [i for i in w["running"] if i in visible]} for w in workers]
    return [w for w in shown if w["running"]]


def _jsonable_worker(worker: dict) -> dict:
    return {
        **worker,
        "started_at": worker["started_at"].isoformat(),
        "last_seen": worker["last_seen"].isoformat(),
    }


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
