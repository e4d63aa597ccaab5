"""What the results endpoints share: the `?as=` report formats, query parameters, access
helpers (a project you cannot see is a 404, never a 403)."""

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation

from catalog import access
from catalog.models import Project
from catalog.permissions import ProjectRole
from core import errors
from core.filters import int_query_param
from core.ids import ID_SCHEMA
from core.inert import served_inert
from executions.models import Execution
from results import reports, selectors
from results.errors import InvalidQuery

MAX_STEPS_PER_PAGE = 1000
AS_PARAM = OpenApiParameter(
    "as", str, enum=list(reports.FORMATS), description="Report format (default json)."
)
# The id's schema, bounds included: a number past them is answered 400, which the schema must
# say, or a client (and schemathesis) would take it for a valid id.
PROJECT_PARAM = OpenApiParameter("project", ID_SCHEMA, required=True, description="Project id.")
RANGE_PARAMS = [
    PROJECT_PARAM,
    OpenApiParameter(
        "since",
        OpenApiTypes.DATE,
        description="First day (default: 30 days before `until`; at most 366 days before it).",
    ),
    OpenApiParameter(
        "until", OpenApiTypes.DATE, description="Last day, inclusive (default today)."
    ),
    OpenApiParameter("branch", str),
    OpenApiParameter("environment", str),
    OpenApiParameter("revision", str),
    OpenApiParameter(
        "label",
        str,
        pattern=selectors.LABEL_PATTERN,
        description="key:value, for results of labelled executions.",
    ),
]
MEDIA = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "junit": "application/xml; charset=utf-8",
}

# A report in each format: the JSON one is an object, the others are text (the schema of
# `?as=`; schemathesis checks each answer against the entry for its content type).
REPORT_RESPONSES = {
    (200, media.split(";")[0]): OpenApiTypes.OBJECT if fmt == "json" else OpenApiTypes.STR
    for fmt, media in MEDIA.items()
}


class AnyAccept(BaseContentNegotiation):
    """These views answer SVG, CSV or XML themselves; DRF's renderer (JSON) only writes errors,
    so whatever the client accepts must not turn into a 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ResultsRole(ProjectRole):
    """Members read results; maintainers quarantine (it changes the catalog)."""


def visible_project(request, needed: str = access.READ) -> Project:
    project_id = int_query_param(request, "project", None, minimum=None)
    if project_id is None:
        raise ValidationError({"project": "Give the project id."})
    return project_with_role(request.user, project_id, needed)


def project_with_role(user, project_id: int, needed: str) -> Project:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:  # the same answer as a project the user may not see, word for word
        raise errors.NotFound("Project not found.")
    access.require(user, project_id, needed, hidden="Project not found.")
    return project


def visible_execution(request, pk: int) -> Execution:
    visible = selectors.executions_for(request.user)
    execution = visible.select_related("project", "test_case", "test_suite").filter(pk=pk).first()
    if execution is None:
        raise NotFound("Execution not found.")
    return execution


def report_response(report: reports.Report, fmt: str, filename: str):
    if fmt not in reports.FORMATS:
        raise InvalidQuery(f"`as` must be one of {', '.join(reports.FORMATS)}.")
    if fmt == "html":
        # Escaped by the template, and served inert besides: its text came from test runs and
        # JUnit uploads, so the page may not run anything in our origin (core.inert).
        return served_inert(HttpResponse(reports.render_html(report), content_type=MEDIA["html"]))
    render = {"json": reports.render_json, "csv": reports.render_csv, "junit": reports.render_junit}
    response = StreamingHttpResponse(render[fmt](report), content_type=MEDIA[fmt])
    if fmt in ("csv", "junit"):
        extension = "xml" if fmt == "junit" else "csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}.{extension}"'
    return response
