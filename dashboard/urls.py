"""Dashboard pages (included at "" by intellibrowse.urls)."""

from django.urls import path

from core import ids  # noqa: F401  registers `<id:...>`
from dashboard.views import (
    analytics,
    cases,
    executions,
    manual,
    operations,
    overview,
    projects,
    runs,
)

app_name = "dashboard"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("overview/panels/", overview.overview_panels, name="overview-panels"),
    path("projects/<id:project_id>/", projects.project_detail, name="project"),
    path(
        "projects/<id:project_id>/analytics/",
        analytics.project_analytics,
        name="project-analytics",
    ),
    path("projects/<id:project_id>/run/", projects.run_start, name="run-start"),
    path("executions/", runs.execution_list, name="executions"),
    path("executions/<id:execution_id>/", executions.execution_detail, name="execution"),
    path("executions/<id:execution_id>/panel/", executions.execution_panel, name="execution-panel"),
    path(
        "executions/<id:execution_id>/cancel/",
        executions.execution_cancel,
        name="execution-cancel",
    ),
    path("executions/<id:execution_id>/rerun/", executions.execution_rerun, name="execution-rerun"),
    path("executions/<id:execution_id>/manual/", manual.manual_page, name="execution-manual"),
    path("cases/<id:case_id>/", cases.case_detail, name="case"),
    path("cases/<id:case_id>/quarantine/", cases.case_quarantine, name="case-quarantine"),
    path("flaky/", cases.flaky_list, name="flaky"),
    path("queue/", operations.queue_page, name="queue"),
    path("queue/pause/", operations.queue_pause_view, name="queue-pause"),
    path("queue/resume/", operations.queue_resume_view, name="queue-resume"),
]
