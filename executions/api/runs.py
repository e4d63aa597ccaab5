"""Execution endpoints: start, list, read, cancel, re-run, the event log; the queue switch.

Each state change is one service call (executions.services.lifecycle / queue); these views only
check permissions and shapes.
"""

from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog import access
from catalog.permissions import Operator, ProjectRole
from core.filters import int_query_param
from core.pagination import CappedCountPagination
from executions import selectors
from executions.filters import ExecutionFilter
from executions.models import Execution, Trigger
from executions.serializers.runs import (
    CancelSerializer,
    CaseRunSerializer,
    ExecutionCreateSerializer,
    ExecutionDetailSerializer,
    ExecutionEventSerializer,
    ExecutionSerializer,
    QueuePauseSerializer,
    QueueStatusSerializer,
    RerunSerializer,
    SuiteRunSerializer,
    execution_as_dict,
    execution_rows_as_dicts,
    execution_values,
)
from executions.services import create, people, queue

MAX_EVENTS_PER_PAGE = 1000


class RunRole(ProjectRole):
    """Members read executions; testers and up start, cancel and re-run them."""

    write_role = access.RUN


@extend_schema_view(
    list=extend_schema(summary="Executions you can see, newest first"),
    retrieve=extend_schema(summary="One execution with its attempts"),
    create=extend_schema(
        summary="Run a test case or a test suite",
        request=PolymorphicProxySerializer(
            component_name="ExecutionCreate",
            serializers=[CaseRunSerializer, SuiteRunSerializer],
            resource_type_field_name=None,
        ),
        responses={201: ExecutionSerializer},
    ),
)
class ExecutionViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [RunRole]
    pagination_class = CappedCountPagination  # the table grows without bound
    filterset_class = ExecutionFilter
    search_fields = ["test_case__key", "test_case__name", "test_suite__name", "status_reason"]
    ordering_fields = ["created_at", "finished_at", "priority", "status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Execution.objects.none()
        queryset = selectors.executions_visible_to(self.request.user).select_related(
            "test_case", "test_suite", "triggered_by"
        )
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("attempts__triggered_by")
        return queryset

    def get_serializer_class(self):
        if self.action == "create":
            return ExecutionCreateSerializer
        if self.action == "retrieve":
            return ExecutionDetailSerializer
        return ExecutionSerializer

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(execution_values(queryset))
        return self.get_paginated_response(execution_rows_as_dicts(page, request))

    def create(self, request, *args, **kwargs):
        serializer = ExecutionCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        project = fields.pop("project")
        access.require(request.user, project.pk, access.RUN)
        trigger = Trigger.API if request.auth is not None else Trigger.USER
        execution = create.execution_create(
            project=project, actor=request.user, trigger=trigger, **fields
        )
        # The short shape: the detail (attempts, children) is one GET away, and this call is on
        # every CI pipeline's critical path.
        data = execution_as_dict(execution, request)
        headers = {"Location": data["links"]["self"]}
        return Response(data, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(
        summary="Cancel: queued stops at once, running stops at the next step boundary",
        request=CancelSerializer,
        responses={200: ExecutionSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        execution = self.get_object()
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        execution = people.execution_cancel(
            execution.pk, actor=request.user, reason=serializer.validated_data.get("reason", "")
        )
        return Response(ExecutionSerializer(execution, context={"request": request}).data)

    @extend_schema(
        summary="Run a finished execution again as a new attempt",
        request=RerunSerializer,
        responses={200: ExecutionSerializer},
    )
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        execution = self.get_object()
        serializer = RerunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        execution = people.execution_rerun(
            execution.pk, actor=request.user, only_failed=serializer.validated_data["only_failed"]
        )
        return Response(ExecutionSerializer(execution, context={"request": request}).data)

    @extend_schema(
        summary="The audit trail: transitions and step results, in order",
        parameters=[
            OpenApiParameter(
                "after",
                {"type": "integer", "minimum": 0},
                description="Only events with seq greater than this.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1},
                description=f"At most this many (more than {MAX_EVENTS_PER_PAGE} gives as many).",
            ),
        ],
        responses=ExecutionEventSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request, pk=None):
        execution = self.get_object()
        after = int_query_param(request, "after", 0, minimum=0)
        limit = int_query_param(request, "limit", MAX_EVENTS_PER_PAGE, minimum=1)
        events = (
            execution.events.filter(seq__gt=after)
            .select_related("actor")
            .order_by("seq")[: min(limit, MAX_EVENTS_PER_PAGE)]
        )
        return Response(ExecutionEventSerializer(events, many=True).data)


class QueueViewSet(viewsets.ViewSet):
    """The one queue: its depth and the pause switch (pausing is for operators)."""

    def get_permissions(self):
        if self.action in ("pause", "resume"):
            return [Operator()]
        return super().get_permissions()

    @extend_schema(
        summary="Queue depth by priority, running, oldest wait", responses=QueueStatusSerializer
    )
    def list(self, request):
        scope = access.figures_scope(request.user)
        return Response(QueueStatusSerializer(selectors.queue_status(scope)).data)

    @extend_schema(
        summary="Stop claiming new work (running executions carry on)",
        request=QueuePauseSerializer,
        responses=QueueStatusSerializer,
    )
    @action(detail=False, methods=["post"])
    def pause(self, request):
        serializer = QueuePauseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queue.queue_pause(actor=request.user, reason=serializer.validated_data.get("reason", ""))
        return Response(QueueStatusSerializer(selectors.queue_status()).data)

    @extend_schema(summary="Resume claiming work", request=None, responses=QueueStatusSerializer)
    @action(detail=False, methods=["post"])
    def resume(self, request):
        queue.queue_resume(actor=request.user)
        return Response(QueueStatusSerializer(selectors.queue_status()).data)
