"""Reads used in more than one place (API, dashboard, metrics, watchdog)."""

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from executions import access
from executions.models import Execution, ExecutionStatus, QueueState

S = ExecutionStatus


def executions_visible_to(user) -> QuerySet[Execution]:
    return Execution.objects.filter(project_id__in=access.visible_project_ids(user))


def queue_claimable(now=None) -> QuerySet[Execution]:
    now = now or timezone.now()
    return Execution.objects.filter(status=S.QUEUED, test_case__isnull=False).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )


def queue_claimable_count() -> int:
    return queue_claimable().count()


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
