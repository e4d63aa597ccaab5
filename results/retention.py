"""Retention: traces and events of finished executions older than their project's
`retention_days` are deleted; executions, attempts and per-case results (history, statistics,
flaky scores) are kept.

Deletes go in chunks, each in its own short transaction, so a first prune of a large backlog
never holds locks the workers wait on.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import Project
from executions.models import TERMINAL, ExecutionEvent, StepRecord, Trace

CHUNK = 2000


def prune_results(*, project: Project | None = None, now=None, dry_run: bool = False) -> dict:
    """Prune every project (or one). Returns {project slug: {"traces", "steps", "events"}}."""
    now = now or timezone.now()
    projects = [project] if project is not None else Project.objects.order_by("pk")
    return {p.slug: prune_project(p, now=now, dry_run=dry_run) for p in projects}


def prune_project(project: Project, *, now, dry_run: bool = False) -> dict:
    cutoff = now - timedelta(days=project.retention_days)
    old = {"execution__status__in": TERMINAL, "execution__finished_at__lt": cutoff}
    traces = Trace.objects.filter(execution__project=project, **old)
    events = ExecutionEvent.objects.filter(project=project, **old)
    if dry_run:
        steps = StepRecord.objects.filter(trace__in=traces.values("id")).count()
        return {"traces": traces.count(), "steps": steps, "events": events.count()}
    counts = {"traces": 0, "steps": 0, "events": 0}
    for deleted in _delete_in_chunks(traces):
        counts["traces"] += deleted.get(Trace._meta.label, 0)
        counts["steps"] += deleted.get(StepRecord._meta.label, 0)
    for deleted in _delete_in_chunks(events):
        counts["events"] += deleted.get(ExecutionEvent._meta.label, 0)
    return counts


def _delete_in_chunks(queryset: QuerySet):
    model = queryset.model
    while ids := list(queryset.values_list("id", flat=True)[:CHUNK]):
        with transaction.atomic():
            yield model.objects.filter(id__in=ids).delete()[1]
