"""Recurring runs: members read, maintainers write, testers may fire one now."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog import access
from catalog.permissions import ProjectRoleOnCreate
from executions.models import RunSchedule
from executions.serializers.runs import ExecutionSerializer
from executions.serializers.schedules import (
    CaseScheduleSerializer,
    RunScheduleSerializer,
    RunScheduleUpdateSerializer,
    SuiteScheduleSerializer,
)
from executions.services import schedules


@extend_schema_view(
    create=extend_schema(
        request=PolymorphicProxySerializer(
            component_name="RunScheduleCreate",
            serializers=[CaseScheduleSerializer, SuiteScheduleSerializer],
            resource_type_field_name=None,
        ),
        responses={201: RunScheduleSerializer},
    ),
    update=extend_schema(responses=RunScheduleSerializer),
    partial_update=extend_schema(responses=RunScheduleSerializer),
)
class RunScheduleViewSet(viewsets.ModelViewSet):
    permission_classes = [ProjectRoleOnCreate]
    filterset_fields = ["project", "enabled", "test_case", "test_suite"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "last_run_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RunSchedule.objects.none()
        visible = access.visible_project_ids(self.request.user)
        return RunSchedule.objects.filter(project__in=visible).select_related("q_schedule")

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return RunScheduleUpdateSerializer
        return RunScheduleSerializer

    def perform_create(self, serializer):
        schedule = RunSchedule(**serializer.validated_data, created_by=self.request.user)
        serializer.instance = schedules.schedule_save(schedule)

    def perform_update(self, serializer):
        for field, value in serializer.validated_data.items():
            setattr(serializer.instance, field, value)
        schedules.schedule_save(serializer.instance)

    def perform_destroy(self, instance):
        schedules.schedule_delete(instance)

    @extend_schema(
        summary="Start the scheduled run now", request=None, responses={201: ExecutionSerializer}
    )
    @action(detail=True, methods=["post"], url_path="run-now")
    def run_now(self, request, pk=None):
        # Not get_object(): its write check wants a maintainer, and testers may start runs.
        schedule = get_object_or_404(self.get_queryset(), pk=pk)
        access.require(request.user, schedule.project_id, access.RUN)
        execution = schedules.schedule_fire(schedule.pk)
        if execution is None:
            return Response(
                {
                    "code": "not_runnable",
                    "message": "The schedule is disabled or has nothing to run.",
                    "detail": None,
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(
            ExecutionSerializer(execution, context={"request": request}).data, status=201
        )
