"""Reads used in more than one place (API, dashboard, metrics, watchdog)."""

from datetime import timedelta

from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from catalog import access
from catalog.models import Project
from executions.models import LEASED, Execution, ExecutionStatus, QueueState

S = ExecutionStatus
# How many of the longest-waiting executions queue_overdue looks at: enough to find one
# that could start, few enough that a backlog held back by limits costs a health check little.
OVERDUE_SAMPLE = 50


def executions_visible_to(user) -> QuerySet[Execution]:
    return Execution.objects.filter(project_id__in=access.visible_project_ids(user))


def queue_waiting(now=None) -> QuerySet[Execution]:
    """Queued case runs whose time has come, whether or not something holds them back (the
    pause, a limit): what the alerts call waiting. A suite run is never claimed, its children are.
    Without `now`, the time is the database's clock (so the claim's SQL is the same every time)."""
    return Execution.objects.filter(status=S.QUEUED, test_case__isnull=False).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=Now() if now is None else now)
    )


def queue_claimable(now=None) -> QuerySet[Execution]:
    """The one definition of claimable: the waiting runs a worker may start now. The queue is not
    paused, the project is under its max_concurrency, the suite run is running and under its
    max_parallel.

    The claim (executions.services.claim) reads its candidates with this condition, compiled
    once per process (executions.rows), and asks it again once it holds the locks that serialize
    it with other claims; the doorbell after a finish asks it the same way; the resume, the
    watchdog's re-ring, health and queue_status count or probe it through the ORM.
    tests/executions/test_claimable.py shows they agree, test_rows.py that both readings match.

    The limits are two uncorrelated sub-queries over the few limited projects and running suite
    runs, computed once per query: walking a long backlog held back by one busy suite costs a
    hash look-up per row, not a count."""
    return queue_waiting(now).filter(
        ~Exists(QueueState.objects.filter(pk=1, paused=True)),
        ~Q(project_id__in=_projects_at_their_limit()),
        Q(parent__isnull=True) | Q(parent_id__in=_suite_runs_with_room()),
    )


def _projects_at_their_limit() -> QuerySet:
    running = (
        Execution.objects.filter(
            project_id=OuterRef("pk"), status__in=LEASED, test_case__isnull=False
        )
        .order_by()
        .values("project_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        Project.objects.filter(max_concurrency__isnull=False)
        .annotate(running=Coalesce(Subquery(running), 0))
        .filter(running__gte=F("max_concurrency"))
        .values("pk")
    )


def _suite_runs_with_room() -> QuerySet:
    busy = (
        Execution.objects.filter(parent_id=OuterRef("pk"), status__in=LEASED)
        .order_by()
        .values("parent_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        Execution.objects.filter(status=S.RUNNING, test_case__isnull=True)
        .annotate(busy=Coalesce(Subquery(busy), 0))
        .filter(busy__lt=F("max_parallel"))
        .values("pk")
    )


def queue_claimable_count() -> int:
    return queue_claimable().count()


def queue_overdue(waited: timedelta, now=None) -> dict | None:
    """Work that could start now and has waited longer than `waited`: {"count", "oldest"
    (queued_at)}, or None. Counted among the OVERDUE_SAMPLE waiting executions in the claim's
    order, so the answer is "how many of those", never a scan of the whole backlog."""
    now = now or timezone.now()
    first = (
        queue_waiting(now)
        .filter(queued_at__lt=now - waited)
        .order_by("-priority", "queued_at", "id")  # the claim's order (index exec_claim_idx)
        .values("pk")[:OVERDUE_SAMPLE]
    )
    found = queue_claimable(now).filter(pk__in=first)
    stats = found.aggregate(count=Count("id"), oldest=Min("queued_at"))
    return stats if stats["count"] else None


def queue_status(project_ids=None) -> dict:
    """Depth by priority, how many of those a worker may start now (claimable), running count,
    oldest queued age, and the pause switch; counts over `project_ids` only when given (see
    access.figures_scope). The switch is global: it stops every project's work, so everyone may
    see it."""
    now = timezone.now()
    every = Execution.objects.all()
    claimable = queue_claimable()
    if project_ids is not None:
        every = every.filter(project_id__in=project_ids)
        claimable = claimable.filter(project_id__in=project_ids)
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
        "claimable": claimable.count(),
        "delayed": every.filter(status=S.PENDING).count(),
        "running": runs.filter(status__in=(S.RUNNING, S.CANCELLING)).count(),
        "awaiting_input": every.filter(status=S.AWAITING_INPUT).count(),
        "oldest_queued_seconds": (now - oldest).total_seconds() if oldest else None,
    }
