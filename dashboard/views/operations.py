"""Operators' page: the queue and workers (pause / resume). The machine-readable endpoints
(metrics, health) are monitoring.views."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from catalog import access
from dashboard import selectors
from dashboard.forms import PauseQueueForm
from dashboard.views.common import run_service, visible_ids
from executions.services import queue
from monitoring.metrics import metrics_snapshot, workers_visible


@login_required
@require_safe
def queue_page(request):
    ids = visible_ids(request.user)
    scope = access.figures_scope(request.user)
    context = {
        "metrics": metrics_snapshot(project_ids=scope),
        "queued": selectors.queued_executions(ids, limit=100),
        "running": selectors.running_executions(ids, limit=100),
        "workers": workers_visible(scope),
        "may_operate": access.is_operator(request.user),
        "pause_form": PauseQueueForm(),
    }
    return render(request, "dashboard/queue.html", context)


@login_required
@require_POST
def queue_pause_view(request):
    if not access.is_operator(request.user):
        raise PermissionDenied("Only operators (staff) may pause the queue.")
    form = PauseQueueForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    back = reverse("dashboard:queue")
    _, refused = run_service(
        request,
        lambda: queue.queue_pause(actor=request.user, reason=reason),
        success="Queue paused: running executions carry on, nothing new starts.",
        back=back,
    )
    return refused or redirect(back)


@login_required
@require_POST
def queue_resume_view(request):
    if not access.is_operator(request.user):
        raise PermissionDenied("Only operators (staff) may resume the queue.")
    back = reverse("dashboard:queue")
    _, refused = run_service(
        request,
        lambda: queue.queue_resume(actor=request.user),
        success="Queue resumed.",
        back=back,
    )
    return refused or redirect(back)
