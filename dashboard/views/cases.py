"""A test case's page (history sparkline, flaky badge, quarantine switch, run button) and the
flaky tests list. Flaky detection and quarantine belong to results; these views read its per-case
history and statistics and call its quarantine service (results.services.case_set_quarantine)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from catalog import access
from catalog.models import Project
from dashboard import selectors
from dashboard.forms import QuarantineForm
from dashboard.views.common import admin_url, case_for, project_for, run_service, visible_ids
from results.services import case_set_quarantine


@login_required
@require_safe
def case_detail(request, case_id: int):
    case = case_for(request.user, case_id)
    context = {
        "case": case,
        "project": case.project,
        "history": selectors.case_history(case),
        "stats": selectors.case_stats(case),
        "can_run": access.has_role(request.user, case.project_id, access.RUN),
        "can_write": access.has_role(request.user, case.project_id, access.WRITE),
        "admin_url": admin_url(request.user, case),
    }
    return render(request, "dashboard/case.html", context)


@login_required
@require_POST
def case_quarantine(request, case_id: int):
    case = case_for(request.user, case_id, access.WRITE)
    back = reverse("dashboard:case", args=[case.pk])
    form = QuarantineForm(request.POST)
    if not form.is_valid():
        return redirect(back)
    quarantined, reason = form.cleaned_data["quarantined"], form.cleaned_data["reason"]
    _, refused = run_service(
        request,
        lambda: case_set_quarantine(
            case, quarantined=quarantined, actor=request.user, reason=reason
        ),
        success="Quarantined: it still runs, but no longer fails its suites."
        if quarantined
        else "Released from quarantine.",
        back=back,
    )
    return refused or redirect(back)


@login_required
@require_safe
def flaky_list(request):
    ids = visible_ids(request.user)
    chosen = request.GET.get("project", "")
    project = None
    if chosen.isdigit():
        project = project_for(request.user, int(chosen))
        ids = [project.pk]
    context = {
        "project": project,
        "projects": Project.objects.filter(pk__in=visible_ids(request.user)).order_by("name"),
        "flaky": selectors.flaky_cases(ids),
    }
    return render(request, "dashboard/flaky.html", context)
