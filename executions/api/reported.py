"""Reported runs: a CI job opens a run, appends its results in batches, heartbeats, closes it.
Each call is one service (executions.services.reported); these views check permissions and
shapes. A tester (or above) in the run's project may write; another project's run is a 404."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog import access
from catalog.permissions import ProjectRoleOnCreate
from core.parsers import ReplacingJSONParser
from executions import selectors
from executions.models import Execution, Trigger
from executions.serializers.reported import (
    ReportedBatchResultSerializer,
    ReportedBatchSerializer,
    ReportedCloseSerializer,
    ReportedRunOpenSerializer,
    ReportedRunSerializer,
)
from executions.services import reported


class ReportedRunRole(ProjectRoleOnCreate):
    write_role = access.RUN


class ReportedRunViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ReportedRunSerializer
    permission_classes = [ReportedRunRole]
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Execution.objects.none()
        return (
            selectors.executions_visible_to(self.request.user)
            .filter(trigger=Trigger.REPORTED)
            .select_related("test_suite")
        )

    def _answer(self, run, code=status.HTTP_200_OK) -> Response:
        run.refresh_from_db()
        return Response(ReportedRunSerializer(run, context={"request": self.request}).data, code)

    @extend_schema(
        summary="Open a reported run: answers its id and dashboard URL",
        request=ReportedRunOpenSerializer,
        responses={201: ReportedRunSerializer},
    )
    def create(self, request):
        given = ReportedRunOpenSerializer(data=request.data, context={"request": request})
        given.is_valid(raise_exception=True)
        data = dict(given.validated_data)
        run = reported.reported_run_open(
            project=data.pop("project"),
            actor=request.user,
            timeout_seconds=data.pop("timeout_seconds", None),
            **data,
        )
        return self._answer(run, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Append a batch of results (idempotent per batch_id); renews the lease",
        description="201: stored; 200: this batch_id was stored before with the same results "
        "(nothing stored again); 409: the batch_id was used with other results, or the run is "
        "no longer open.",
        request=ReportedBatchSerializer,
        responses={201: ReportedBatchResultSerializer, 200: ReportedBatchResultSerializer},
    )
    @action(detail=True, methods=["post"], parser_classes=[ReplacingJSONParser])
    def batches(self, request, pk=None):
        run = self.get_object()
        batch = ReportedBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        stored, created = reported.reported_run_append(
            run.pk, batch_id=batch.validated_data["batch_id"], results=batch.steps()
        )
        body = {
            "stored": stored,
            "duplicate": not created,
            "status": "running",
            "replaced_characters": getattr(self, "replaced_characters", 0),
        }
        return Response(body, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Renew the lease of a reported run",
        request=None,
        responses={200: ReportedRunSerializer},
    )
    @action(detail=True, methods=["post"])
    def heartbeat(self, request, pk=None):
        run = self.get_object()
        return self._answer(reported.reported_run_heartbeat(run.pk))

    @extend_schema(
        summary="Close a reported run",
        request=ReportedCloseSerializer,
        responses={200: ReportedRunSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        run = self.get_object()
        given = ReportedCloseSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        closed = reported.reported_run_close(
            run.pk, actor=request.user, outcome=given.validated_data.get("outcome", "")
        )
        return self._answer(closed)
