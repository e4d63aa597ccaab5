"""A project's page (its cases, suites and runs) and the form that starts a run."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from catalog import access
from core.errors import DomainError
from dashboard import selectors
from dashboard.forms import StartRunForm
from dashboard.views.common import project_for
from executions.models import Execution, Trigger
from executions.services import create


@login_required
@require_safe
def project_detail(request, project_id: int):
    project = project_for(request.user, project_id)
    runs = selectors.with_child_statuses(
        Execution.objects.filter(project=project, parent__isnull=True)
        .select_related("test_case", "test_suite")
        .order_by("-created_at", "-id")[:50]
    )
    context = {
        "project": project,
        "cases": project.test_cases.order_by("key"),
        "suites": project.test_suites.order_by("name"),
        "runs": runs,
        "can_run": access.has_role(request.user, project.pk, access.RUN),
        "can_write": access.has_role(request.user, project.pk, access.WRITE),
    }
    return render(request, "dashboard/project.html", context)


@login_required
def run_start(request, project_id: int):
    project = project_for(request.user, project_id, access.RUN)
    refused = ""
    if request.method == "POST":
        form = StartRunForm(request.POST, project=project)
        if form.is_valid():
            try:
                execution = create.execution_create(
                    project=project,
                    actor=request.user,
                    trigger=Trigger.USER,
                    **form.service_arguments(),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect(reverse("dashboard:execution", args=[execution.pk]))
    else:
        form = StartRunForm(project=project)
        target = request.GET.get("target", "")
        refused = form.refusal_of(target)
        if not refused:
            form.initial["target"] = target
    has_targets = project.test_cases.exists() or project.test_suites.exists()
    return render(
        request,
        "dashboard/run_start.html",
        {"project": project, "form": form, "has_targets": has_targets, "refused": refused},
    )
