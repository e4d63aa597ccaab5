"""Reads used in more than one place (API, dashboard, metrics, watchdog)."""

from datetime import timedelta

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog import access
from executions.models import Execution, ExecutionStatus, QueueState

S = ExecutionStatus
# How many of the longest-waiting claimable executions queue_overdue looks at: enough to find one
# that could start, few enough that a backlog held back by limits costs a health check little.
OVERDUE_SAMPLE = 50


def executions_visible_to(user) -> QuerySet[Execution]:
    return Execution.objects.filter(project_id__in=access.visible_project_ids(user))


def queue_claimable(now=None) -> QuerySet[Execution]:
    now = now or timezone.now()
    return Execution.objects.filter(status=S.QUEUED, test_case__isnull=False).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )


def queue_claimable_count() -> int:
    return queue_claimable().count()


def queue_startable(now=None) -> QuerySet[Execution]:
    """Claimable work that nothing holds back right now: the queue is not paused, the project is
    under its max_concurrency, the suite run is running and under its max_parallel.

    The claim decides the same on locked rows, one candidate at a time (lifecycle._may_start);
    this is the read-only view of it for checks that must not lock (health, alerts)."""
    if QueueState.get().paused:
        return Execution.objects.none()
    leased = (S.RUNNING, S.CANCELLING)
    in_project = (
        Execution.objects.filter(
            project_id=OuterRef("project_id"), status__in=leased, test_case__isnull=False
        )
        .order_by()
        .values("project_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    in_suite = (
        Execution.objects.filter(parent_id=OuterRef("parent_id"), status__in=leased)
        .order_by()
        .values("parent_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        queue_claimable(now)
        .annotate(
            project_running=Coalesce(Subquery(in_project), 0),
            suite_running=Coalesce(Subquery(in_suite), 0),
        )
        .filter(
            Q(project__max_concurrency__isnull=True)
            | Q(project_running__lt=F("project__max_concurrency")),
            Q(parent__isnull=True)
            | Q(parent__status=S.RUNNING, suite_running__lt=F("parent__max_parallel")),
        )
    )


def queue_overdue(waited: timedelta, now=None) -> dict | None:
    """Work that could start now and has waited longer than `waited`: {"count", "oldest"
    (queued_at)}, or None. Counted among the OVERDUE_SAMPLE claimable executions the claim would
    try first, so the answer is "how many of those", never a scan of the whole backlog."""
    now = now or timezone.now()
    first = (
        queue_claimable(now)
        .filter(queued_at__lt=now - waited)
        .order_by("-priority", "queued_at", "id")  # the claim's order (index exec_claim_idx)
        .values("pk")[:OVERDUE_SAMPLE]
    )
    found = queue_startable(now).filter(pk__in=first)
    stats = found.aggregate(count=Count("id"), oldest=Min("queued_at"))
    return stats if stats["count"] else None


def queue_status(project_ids=None) -> dict:
    """Depth by priority, running count, oldest queued age, and the pause switch; counts over
    `project_ids` only when given (see access.figures_scope). The switch is global: it stops
    every project's work, so everyone may see it."""
    now = timezone.now()
    every = Execution.objects.all()
    if project_ids is not None:
        every = every.filter(project_id__in=project_ids)
    runs = every.filter(test_case__isnull=False)  # a suite run's children count, not the suite
    queued = runs.filter(status=S.QUEUED)
    by_priority = {
        row["priority"]: row["n"]
        for row in queued.values("priority").annotate(n=Count("id")).order_by()
    }
    oldest = queued.aggregate(oldest=Min("queued_at"))["oldest"]
    state = QueueState.get()
    return {
        "paused": state.paused,
        "paused_reason": state.reason,
        "queued": sum(by_priority.values()),
        "queued_by_priority": by_priority,
        "delayed": every.filter(status=S.PENDING).count(),
        "running": runs.filter(status__in=(S.RUNNING, S.CANCELLING)).count(),
        "awaiting_input": every.filter(status=S.AWAITING_INPUT).count(),
        "oldest_queued_seconds": (now - oldest).total_seconds() if oldest else None,
    }
