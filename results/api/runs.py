"""Steps and reports of an execution: a page of steps, the whole trace streamed, the report."""

import json

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.views import APIView

from core.filters import int_query_param
from executions.traces import trace_of, trace_step_json_chunks, trace_step_page_json
from results import reports
from results.api.common import (
    AS_PARAM,
    MAX_STEPS_PER_PAGE,
    REPORT_RESPONSES,
    AnyAccept,
    report_response,
    visible_execution,
)
from results.serializers import StepPageSerializer

# Attempts are numbered from 1 (the schema says so; 0 is a 400).
ATTEMPT_SCHEMA = {"type": "integer", "minimum": 1}


class ExecutionStepsView(APIView):
    """Steps of an attempt, a page at a time (keyset: `after` = the last order you have)."""

    content_negotiation_class = AnyAccept

    @extend_schema(
        summary="Steps of an execution's attempt, paginated",
        parameters=[
            OpenApiParameter(
                "attempt", ATTEMPT_SCHEMA, description="Attempt number (default: the latest)."
            ),
            OpenApiParameter(
                "after",
                {"type": "integer", "minimum": 0},
                description="Only steps with a greater order.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1},
                description=f"At most this many (more than {MAX_STEPS_PER_PAGE} gives as many).",
            ),
        ],
        responses=StepPageSerializer,
    )
    def get(self, request, pk: int):
        execution = visible_execution(request, pk)
        attempt = int_query_param(request, "attempt", None, minimum=1)
        after = int_query_param(request, "after", 0)
        limit = min(int_query_param(request, "limit", 500, minimum=1), MAX_STEPS_PER_PAGE)
        trace = trace_of(execution, attempt)
        texts, last = trace_step_page_json(trace, after=after, limit=limit) if trace else ([], 0)
        more = trace is not None and len(texts) == limit and last < trace.last_order
        head = {
            "execution": execution.pk,
            "attempt": trace.attempt.number if trace else attempt,
            "storage": trace.storage if trace else None,
            "step_count": trace.step_count if trace else 0,
            "counts": trace.counts if trace else {},
            "next_after": last if more else None,
        }
        # The steps go out as the database's JSON text, not decoded and re-encoded by DRF.
        body = json.dumps(head)[:-1] + ', "results": [' + ",".join(texts) + "]}"
        return HttpResponse(body, content_type="application/json")


class ExecutionStepsStreamView(APIView):
    """Every step of an attempt in one streamed JSON document, however large the trace."""

    content_negotiation_class = AnyAccept

    @extend_schema(
        summary="All steps of an attempt, streamed",
        parameters=[
            OpenApiParameter("attempt", ATTEMPT_SCHEMA, description="Default: the latest.")
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, pk: int):
        execution = visible_execution(request, pk)
        trace = trace_of(execution, int_query_param(request, "attempt", None, minimum=1))

        def document():
            number = trace.attempt.number if trace else None
            count = trace.step_count if trace else 0
            yield f'{{"execution": {execution.pk}, "attempt": {number or "null"}, '
            yield f'"step_count": {count}, "steps": ['
            for i, chunk in enumerate(trace_step_json_chunks(trace)):
                yield ("," if i else "") + ",".join(chunk)
            yield "]}"

        return StreamingHttpResponse(document(), content_type="application/json")


# --- reports -------------------------------------------------------------------------------------


class ExecutionReportView(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        summary="Report of a case run or a suite run: JSON, printable HTML, CSV or JUnit XML",
        parameters=[AS_PARAM],
        responses=REPORT_RESPONSES,
    )
    def get(self, request, pk: int):
        execution = visible_execution(request, pk)
        fmt = request.query_params.get("as", "json")
        report = reports.execution_report(execution)
        return report_response(report, fmt, f"execution-{execution.pk}")
