"""The overview at `/`: counters, queue, running executions, recent results, pass-rate trend.

The page listens to each visible project's feed (static/dashboard/live.js) and re-fetches
`overview_panels` when something happens, so everything on it stays current without a reload.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from catalog import access
from catalog.models import Project
from dashboard import selectors
from dashboard.views.common import project_for, visible_ids
from monitoring.alerts import alerts_check, alerts_open
from monitoring.models import AlertKind

# Sockets one overview page opens at most (one per project).
MAX_LIVE_PROJECTS = 20


def _scope(request) -> tuple[list[int], Project | None]:
    """The projects the overview covers: all visible ones, or the one in ?project=."""
    ids = visible_ids(request.user)
    chosen = request.GET.get("project", "")
    if chosen.isdigit():
        project = project_for(request.user, int(chosen))
        return [project.pk], project
    return ids, None


def _panels(user, project_ids) -> dict:
    return {
        "counters": selectors.overview_counters(project_ids),
        "running": selectors.running_executions(project_ids),
        "awaiting": selectors.awaiting_executions(project_ids),
        "queued": selectors.queued_executions(project_ids),
        "recent": selectors.recent_results(project_ids),
        "trend": selectors.pass_rate_trend(project_ids),
        "alerts": _alerts(user),
    }


# Alerts whose message counts every project's runs (failure rate, stuck queue): operators only.
# "No worker" names no figure and concerns everyone, so everyone sees it.
ALERTS_FOR_EVERYONE = {AlertKind.NO_WORKER}


def _alerts(user) -> list[dict]:
    """What holds now (read live, so the page is right even where no evaluator runs), with the
    time it was first recorded when the evaluator has seen it."""
    raised = {a.kind: a.raised_at for a in alerts_open()}
    operator = access.figures_scope(user) is None
    return [
        {
            "kind": c.kind,
            "title": AlertKind(c.kind).label,
            "message": c.message,
            "since": raised.get(c.kind),
        }
        for c in alerts_check()
        if operator or c.kind in ALERTS_FOR_EVERYONE
    ]


@login_required
@require_safe
def overview(request):
    ids, project = _scope(request)
    projects = list(Project.objects.filter(pk__in=visible_ids(request.user)).order_by("name"))
    context = {
        "project": project,
        "projects": projects,
        "live_project_ids": ids[:MAX_LIVE_PROJECTS],
        **_panels(request.user, ids),
    }
    return render(request, "dashboard/overview.html", context)


@login_required
@require_safe
def overview_panels(request):
    ids, project = _scope(request)
    return render(
        request,
        "dashboard/_overview_panels.html",
        {"project": project, **_panels(request.user, ids)},
    )
