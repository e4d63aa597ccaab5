"""JUnit imports: the upload (XML body or multipart file), the batches, their reports."""

import django_filters
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import UnsupportedMediaType, ValidationError
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import access
from core import filters as strict_filters
from core.pagination import CappedCountPagination
from core.throttling import ScopedRateThrottle
from results import reports, selectors
from results.api.common import (
    AS_PARAM,
    REPORT_RESPONSES,
    AnyAccept,
    ResultsRole,
    project_with_role,
    report_response,
)
from results.errors import ImportTooLarge
from results.imports import junit_import
from results.junit import gunzipped
from results.models import ImportBatch
from results.serializers import (
    CaseResultSerializer,
    ImportBatchSerializer,
    JUnitImportParamsSerializer,
    JUnitUploadSerializer,
)


class RawXMLParser(BaseParser):
    """Lets a client POST the report itself (curl --data-binary @report.xml). The view reads
    the body as a stream; this parser only declares the media types."""

    media_type = "application/xml"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class RawTextXMLParser(RawXMLParser):
    media_type = "text/xml"


class JUnitImportView(APIView):
    parser_classes = [MultiPartParser, RawXMLParser, RawTextXMLParser]
    # Per-user limit (IB_RATE_IMPORTS): one report can hold 100,000 testcases.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "imports"

    def initial(self, request, *args, **kwargs):
        # Refuse an announced oversize body before anything (authentication, CSRF, the multipart
        # parser) reads it.
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.IB_JUNIT_MAX_BYTES:
            raise _too_large()
        super().initial(request, *args, **kwargs)

    @extend_schema(
        summary="Import a JUnit XML report: the XML as the body, or a multipart `file`",
        description="What the report is about goes in the query string. The body may be sent "
        "with `Content-Encoding: gzip` and with chunked transfer encoding (no Content-Length). "
        "201: imported (`notes` lists what was changed to read it: control characters "
        "replaced, names derived for nameless testcases); 200: the same report (same bytes, "
        "with or without the same Idempotency-Key) was imported before and nothing changed; "
        "400: not JUnit XML, or XML with a DTD / entities (refused); 409: the Idempotency-Key "
        "was used for a different report; 413: larger than IB_JUNIT_MAX_BYTES (decompressed); "
        "415: another media type or content encoding.",
        request={
            "application/xml": OpenApiTypes.BINARY,
            "text/xml": OpenApiTypes.BINARY,
            "multipart/form-data": JUnitUploadSerializer,
        },
        parameters=[
            JUnitImportParamsSerializer,
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER),
            OpenApiParameter("Content-Encoding", str, OpenApiParameter.HEADER, enum=["gzip"]),
        ],
        responses={201: ImportBatchSerializer, 200: ImportBatchSerializer},
    )
    def post(self, request):
        params = JUnitImportParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        options = dict(params.validated_data)
        project = project_with_role(request.user, options.pop("project"), access.RUN)
        media = request.content_type.split(";")[0].strip()
        if media not in ("multipart/form-data", "application/xml", "text/xml"):
            raise UnsupportedMediaType(
                media, "Send the report as application/xml (or multipart/form-data with `file`)."
            )
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip") or (
            encoding.endswith("gzip") and media == "multipart/form-data"
        ):
            raise UnsupportedMediaType(
                f"{media}; Content-Encoding: {encoding}",
                "Send the report as it is, or gzip-compressed as application/xml with "
                "Content-Encoding: gzip.",
            )
        if media == "multipart/form-data":
            upload = request.data.get("file")
            if not hasattr(upload, "read"):
                raise ValidationError({"file": "Attach the JUnit XML report as `file`."})
            if upload.size > settings.IB_JUNIT_MAX_BYTES:
                raise _too_large()
            stream, filename = upload, upload.name or ""
        else:
            # Django's request, not DRF's request.stream: DRF takes a body without a
            # Content-Length (chunked transfer encoding: curl -T -, a generator in requests, an
            # io.Reader in Go) for an empty one. The ASGI handler has read the body already,
            # bounded (core.bounded_body), and JUnitReader bounds what it parses.
            stream, filename = request._request, ""
            if encoding.endswith("gzip"):
                stream = gunzipped(stream)
        in_query = options.pop("idempotency_key", "")
        key = request.headers.get("Idempotency-Key") or in_query
        batch, created = junit_import(
            project=project,
            stream=stream,
            actor=request.user,
            filename=filename,
            idempotency_key=key,
            **options,
        )
        body = ImportBatchSerializer(
            batch, context={"request": request, "duplicate": not created, "what_matters": True}
        ).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _too_large() -> ImportTooLarge:
    limit = settings.IB_JUNIT_MAX_BYTES
    return ImportTooLarge(
        f"The report is larger than the limit of {limit:,} bytes.", detail={"limit_bytes": limit}
    )


class ImportBatchFilter(strict_filters.FilterSet):
    # A number, not a choice: another project's id filters to nothing, like a missing one.
    project = strict_filters.IdFilter()
    revision = django_filters.CharFilter()
    branch = django_filters.CharFilter()
    environment = django_filters.CharFilter()

    class Meta:
        model = ImportBatch
        fields = ["project", "revision", "branch", "environment"]


class ImportBatchViewSet(viewsets.ReadOnlyModelViewSet):
    """Imported reports: members of the project read them and their results."""

    serializer_class = ImportBatchSerializer
    permission_classes = [ResultsRole]
    filterset_class = ImportBatchFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImportBatch.objects.none()
        return selectors.import_batches_for(self.request.user).select_related(
            "created_by", "project"
        )

    @extend_schema(
        summary="Results of an import, paginated",
        parameters=[OpenApiParameter("outcome", str)],
        responses=CaseResultSerializer(many=True),
    )
    @action(
        detail=True, methods=["get"], filter_backends=[], pagination_class=CappedCountPagination
    )
    def results(self, request, pk=None):
        batch = self.get_object()
        results = batch.results.order_by("id")
        if outcome := request.query_params.get("outcome"):
            results = results.filter(outcome=outcome)
        page = self.paginate_queryset(results)
        return self.get_paginated_response(CaseResultSerializer(page, many=True).data)

    @extend_schema(
        summary="Report of an import: JSON, printable HTML, CSV or JUnit XML",
        parameters=[AS_PARAM],
        responses=REPORT_RESPONSES,
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=None,
        content_negotiation_class=AnyAccept,
    )
    def report(self, request, pk=None):
        batch = self.get_object()
        fmt = request.query_params.get("as", "json")
        return report_response(reports.import_report(batch), fmt, f"import-{batch.pk}")
