"""Analytics of a project's results and one case's health: statistics, trends, flaky tests,
history, quarantine."""

from collections.abc import Callable

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.models import TestCase
from core.pagination import CappedCountPagination
from results import selectors
from results.api.common import PROJECT_PARAM, RANGE_PARAMS, ResultsRole, visible_project
from results.serializers import (
    AnalyticsSerializer,
    CaseEventSerializer,
    CaseHealthSerializer,
    CaseResultSerializer,
    FlakyCaseSerializer,
    QuarantineSerializer,
)
from results.services import case_set_quarantine


class AnalyticsViewSet(viewsets.GenericViewSet):
    """Statistics and trends of a project's results (engine runs and imports alike)."""

    filter_backends = []

    @extend_schema(
        summary="Counts by outcome, pass rate, duration and queue wait p50 / p95",
        parameters=RANGE_PARAMS,
        responses=AnalyticsSerializer,
    )
    @action(detail=False, methods=["get"])
    def statistics(self, request):
        return self._ranged(request, "statistics", selectors.statistics)

    @extend_schema(
        summary="The same statistics per day",
        parameters=RANGE_PARAMS,
        responses=AnalyticsSerializer,
    )
    @action(detail=False, methods=["get"])
    def trends(self, request):
        return self._ranged(request, "days", selectors.trends)

    @extend_schema(
        summary="Flaky tests of a project, most flaky first",
        parameters=[PROJECT_PARAM],
        responses=FlakyCaseSerializer(many=True),
    )
    @action(detail=False, methods=["get"])
    def flaky(self, request):
        project = visible_project(request)
        page = self.paginate_queryset(selectors.flaky_cases(project.pk))
        return self.get_paginated_response(FlakyCaseSerializer(page, many=True).data)

    @staticmethod
    def _ranged(request, key: str, compute: Callable[[selectors.ResultFilter], object]) -> Response:
        """One answer shape for every range-filtered figure: which project and range it covers,
        and `compute(filter)` under `key`."""
        project = visible_project(request)
        flt = selectors.ResultFilter.parse(project.pk, request.query_params)
        return Response(
            {"project": project.pk, "since": flt.since, "until": flt.until, key: compute(flt)}
        )


class CaseHealthViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One case's health: stats and recent window, history, audit trail, quarantine."""

    serializer_class = CaseHealthSerializer
    permission_classes = [ResultsRole]
    filter_backends = []

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return TestCase.objects.none()
        return selectors.cases_for(self.request.user).select_related("stats")

    @extend_schema(
        summary="Results of the case, newest first", responses=CaseResultSerializer(many=True)
    )
    @action(detail=True, methods=["get"], pagination_class=CappedCountPagination)
    def history(self, request, pk=None):
        case = self.get_object()
        page = self.paginate_queryset(selectors.case_history(case))
        return self.get_paginated_response(CaseResultSerializer(page, many=True).data)

    @extend_schema(
        summary="Quarantine changes and flaky verdicts of the case",
        responses=CaseEventSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        case = self.get_object()
        events = case.health_events.select_related("actor").order_by("-created_at", "-id")
        page = self.paginate_queryset(events)
        return self.get_paginated_response(CaseEventSerializer(page, many=True).data)

    @extend_schema(
        summary="Quarantine the case or release it (maintainers)",
        description="A quarantined case still runs and is recorded, but does not fail its suite.",
        request=QuarantineSerializer,
        responses=CaseHealthSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=QuarantineSerializer)
    def quarantine(self, request, pk=None):
        case = self.get_object()
        serializer = QuarantineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        case_set_quarantine(case, actor=request.user, **serializer.validated_data)
        return Response(CaseHealthSerializer(self.get_queryset().get(pk=case.pk)).data)
