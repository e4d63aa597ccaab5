"""Operators' views: the queue and workers page (pause / resume), and the machine-readable
endpoints: /api/v1/metrics/ (JSON, authenticated), /metrics (Prometheus), /health/live and
/health/ready."""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import access
from dashboard import selectors
from dashboard.forms import PauseQueueForm
from dashboard.views.common import run_service, visible_ids
from executions.services import queue
from monitoring.health import readiness
from monitoring.metrics import metrics_snapshot, workers_visible
from monitoring.prometheus import render_metrics


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


class MetricsView(APIView):
    """Operational metrics.

    Queue depth by priority, running, throughput per minute, duration p50/p95 and failure rate
    over the last hour, oldest queued age, and workers last seen. Staff and superusers see every
    project; others see the projects they are members of, and only the workers running their
    work (catalog.access.figures_scope)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Operational metrics")
    def get(self, request):
        return Response(metrics_snapshot(project_ids=access.figures_scope(request.user)))


@never_cache
@require_GET
def prometheus_metrics(request):
    token = settings.IB_METRICS_TOKEN
    if not token and not settings.DEBUG:
        # Queue depths, worker names and failure counts are for the operators: in production
        # they are served only to a scraper that holds the token.
        return HttpResponse(
            "Metrics are off: set IB_METRICS_TOKEN and scrape with that bearer token.\n", status=403
        )
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = HttpResponse("A bearer token is required.\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


@never_cache
@require_GET
def health_live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health_ready(request):
    """Anyone may ask (load balancers do not sign in) and gets the verdict and each check's
    ok / required / ms. Only operators also get each check's `detail`: it names the broker, its
    queue length, the worker count and the text of a failure (a database host, a user name)."""
    status, body = readiness()
    if not (request.user.is_staff or request.user.is_superuser):
        for check in body["checks"].values():
            check.pop("detail", None)
    return JsonResponse(body, status=status)
