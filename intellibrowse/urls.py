"""All URLs. The whole API is registered on one router here, so it can be read in one place."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from catalog import api as catalog_api
from core import auth_views, ids, throttling  # noqa: F401  registers `<id:...>`: unknown ids are a 404
from core.openapi import SchemaView
from executions import api as executions_api
from executions import views as executions_views
from executions.api.manual import ManualStepResultView
from monitoring import views as monitoring_views
from results import api as results_api
from triage import api as triage_api


class ApiRouter(DefaultRouter):
    """DRF's router with `<id:pk>` in object URLs: `/schedules/null,null/` used to reach the views
    as a string, and an id past 2**63 crashed a lookup. A viewset may still set its own
    `lookup_value_converter`. No `.json` suffix URLs: `?format=json` does the same, and the
    suffixed copies of every operation only doubled the schema."""

    include_format_suffixes = False

    def __init__(self):
        super().__init__(use_regex_path=False)

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        field = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        converter = getattr(viewset, "lookup_value_converter", "id")
        return f"<{converter}:{lookup_prefix}{field}>"


router = ApiRouter()
router.register("projects", catalog_api.ProjectViewSet, basename="project")
router.register("test-cases", catalog_api.TestCaseViewSet, basename="testcase")
router.register("test-suites", catalog_api.TestSuiteViewSet, basename="testsuite")
router.register("executions", executions_api.ExecutionViewSet, basename="execution")
router.register("queue", executions_api.QueueViewSet, basename="queue")
router.register("reported-runs", executions_api.ReportedRunViewSet, basename="reported-run")
router.register("schedules", executions_api.RunScheduleViewSet, basename="schedule")
router.register("imports", results_api.ImportBatchViewSet, basename="import")
router.register("analytics/cases", results_api.CaseHealthViewSet, basename="case-health")
router.register("analytics", results_api.AnalyticsViewSet, basename="analytics")
router.register("failure-groups", triage_api.FailureGroupViewSet, basename="failure-group")
router.register("failure-results", triage_api.GroupHitViewSet, basename="failure-result")
router.register("failure-categories", triage_api.CategoryViewSet, basename="failure-category")
router.register("triage-rules", triage_api.TriageRuleViewSet, basename="triage-rule")

urlpatterns = [
    # The three sign-in forms, rate limited (core.throttling), ahead of the includes that
    # also route them.
    path("admin/login/", throttling.login_rate_limited(admin.site.login)),
    path("accounts/login/", auth_views.dashboard_login, name="login"),
    path("api/v1/auth/login/", auth_views.api_login),
    path("api/v1/auth/token/", auth_views.TokenView.as_view(), name="api-token"),
    path("admin/", admin.site.urls),
    path("api/v1/metrics/", monitoring_views.MetricsView.as_view(), name="api-metrics"),
    path(
        "api/v1/executions/<id:pk>/steps/<id:order>/result/",
        ManualStepResultView.as_view(),
        name="execution-manual-step-result",
    ),
    # results: steps, reports, imports, CI hooks, badges (before the router: plain views)
    path("api/v1/executions/<id:pk>/steps/", results_api.ExecutionStepsView.as_view()),
    path("api/v1/executions/<id:pk>/steps/stream/", results_api.ExecutionStepsStreamView.as_view()),
    path("api/v1/executions/<id:pk>/report/", results_api.ExecutionReportView.as_view()),
    path("api/v1/imports/junit/", results_api.JUnitImportView.as_view(), name="import-junit"),
    path("api/v1/hooks/suites/<id:suite_id>/", results_api.SuiteHookView.as_view()),
    path("api/v1/hooks/suites/<id:suite_id>/run/", results_api.SuiteHookRunView.as_view()),
    path("api/v1/suites/<id:suite_id>/badge.svg", results_api.SuiteBadgeView.as_view()),
    path("api/v1/compare/", results_api.CompareView.as_view(), name="compare"),
    path("api/v1/", include(router.urls)),
    path("api/v1/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a URL of its own (`?script=`): no inline
    # script, as the Content-Security-Policy requires.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/auth/", include("rest_framework.urls")),
    # Browsers ask for /favicon.ico on every page that names no icon (the admin, the API, JSON).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("metrics", monitoring_views.prometheus_metrics, name="prometheus-metrics"),
    path("health/live", monitoring_views.health_live, name="health-live"),
    path("health/ready", monitoring_views.health_ready, name="health-ready"),
    path("accounts/", include("django.contrib.auth.urls")),
    path(
        "media/attachments/<id:execution_id>/<path:rest>",
        executions_views.attachment_download,
        name="attachment",
    ),
    path("demo/", include("intellibrowse.demo")),  # demo target pages (manage.py load_demo)
    path("", include("dashboard.urls")),  # the dashboard
]

handler400 = "core.views.bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
