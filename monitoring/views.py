"""The machine-readable operational endpoints: /api/v1/metrics/ (JSON, authenticated),
/metrics (Prometheus), /health/live and /health/ready."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import access
from monitoring.health import readiness
from monitoring.metrics import metrics_snapshot
from monitoring.prometheus import render_metrics


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
