"""Triage endpoints: failure groups and their hits (read; testers and maintainers triage),
categories and rules (read; maintainers write). Registered in intellibrowse/urls.py.

Querysets hold only what the user's projects hold, so another project's object is a 404; the
permission classes decide the role (catalog.permissions). Every write calls triage.services.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from catalog.access import READ, RUN, has_role, visible_project_ids
from catalog.permissions import ProjectRole, ProjectRoleOnCreate
from core.filters import int_query_param
from core.ids import ID_SCHEMA
from triage import services
from triage.errors import TriageError
from triage.models import Category, FailureGroup, GroupHit, GroupState, TriageRule
from triage.serializers import (
    CategorySerializer,
    CategoryUpdateSerializer,
    FailureGroupSerializer,
    GroupHitSerializer,
    TriageInputSerializer,
    TriageRuleSerializer,
    TriageRuleUpdateSerializer,
)

_UPDATES = ("update", "partial_update")
PROJECT_FILTER = OpenApiParameter("project", ID_SCHEMA, description="Project id.")
GROUP_FILTERS = [
    PROJECT_FILTER,
    OpenApiParameter("state", str, enum=GroupState.values, description="State in its latest run."),
    OpenApiParameter("category", ID_SCHEMA, description="Category id."),
]


def _schema_only(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


class Triager(ProjectRole):
    """Members read; testers and maintainers triage."""

    write_role = RUN


def _triage(view, request, target):
    data = TriageInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    given = dict(data.validated_data)
    if "category" in given and given["category"] is not None:
        category = Category.objects.filter(
            pk=given["category"], project_id=target.project_id
        ).first()
        if category is None:
            raise TriageError(
                "No such category in this project.", detail={"category": given["category"]}
            )
        given["category"] = category
    services.triage_set(target, actor=request.user, **given)
    target.refresh_from_db()
    return Response(view.get_serializer(target).data)


@extend_schema_view(
    list=extend_schema(
        summary="Failure groups, most recently seen first", parameters=GROUP_FILTERS
    ),
    retrieve=extend_schema(summary="One failure group"),
)
class FailureGroupViewSet(viewsets.ReadOnlyModelViewSet):
    """One group per failure signature in a project."""

    serializer_class = FailureGroupSerializer
    permission_classes = [Triager]
    filter_backends = []

    def get_queryset(self):
        if _schema_only(self):
            return FailureGroup.objects.none()
        visible = FailureGroup.objects.filter(project__in=visible_project_ids(self.request.user))
        visible = visible.select_related("category")
        if self.action != "list":
            return visible
        params = self.request.query_params
        project = int_query_param(self.request, "project", None, minimum=1)
        category = int_query_param(self.request, "category", None, minimum=1)
        state = params.get("state")
        # Given but empty is a 400 too, as for every filter: the schema says one of the states.
        if state is not None and state not in GroupState.values:
            raise ValidationError({"state": f"One of: {', '.join(GroupState.values)}."})
        if project is not None:
            visible = visible.filter(project_id=project)
        if category is not None:
            visible = visible.filter(category_id=category)
        if state:
            visible = visible.filter(last_state=state)
        return visible.order_by("-last_seen_at", "-id")

    @extend_schema(
        summary="Triage a group: category, comment, issue link (testers and maintainers)",
        request=TriageInputSerializer,
        responses=FailureGroupSerializer,
    )
    @action(detail=True, methods=["post"])
    def triage(self, request, pk=None):
        return _triage(self, request, self.get_object())


@extend_schema_view(
    list=extend_schema(
        summary="Failed results in failure groups, newest first",
        parameters=[
            PROJECT_FILTER,
            OpenApiParameter("group", ID_SCHEMA, description="Failure group id."),
            OpenApiParameter("run", str, description="A run: execution:<id> or import:<id>."),
        ],
    ),
    retrieve=extend_schema(summary="One failed result in its group"),
)
class GroupHitViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = GroupHitSerializer
    permission_classes = [Triager]
    filter_backends = []

    def get_queryset(self):
        if _schema_only(self):
            return GroupHit.objects.none()
        visible = GroupHit.objects.filter(project__in=visible_project_ids(self.request.user))
        visible = visible.select_related("case", "category")
        if self.action != "list":
            return visible
        group = int_query_param(self.request, "group", None, minimum=1)
        project = int_query_param(self.request, "project", None, minimum=1)
        run = self.request.query_params.get("run", "")
        if project is not None:
            visible = visible.filter(project_id=project)
        if group is not None:
            visible = visible.filter(group_id=group)
        if run:
            visible = visible.filter(run=run[:40])
        return visible.order_by("-created_at", "-id")

    @extend_schema(
        summary="Triage one failed result (overrides its group's triage for it)",
        request=TriageInputSerializer,
        responses=GroupHitSerializer,
    )
    @action(detail=True, methods=["post"])
    def triage(self, request, pk=None):
        return _triage(self, request, self.get_object())


class _ProjectScoped(viewsets.ModelViewSet):
    permission_classes = [ProjectRoleOnCreate]
    filter_backends = []
    model = None

    def get_queryset(self):
        if _schema_only(self):
            return self.model.objects.none()
        visible = self.model.objects.filter(project__in=visible_project_ids(self.request.user))
        project = int_query_param(self.request, "project", None, minimum=1)
        return visible.filter(project_id=project) if project is not None else visible


@extend_schema_view(list=extend_schema(parameters=[PROJECT_FILTER]))
class CategoryViewSet(_ProjectScoped):
    """Failure categories of a project: members read, maintainers write."""

    model = Category

    def get_queryset(self):
        if not _schema_only(self) and self.action == "list":
            # A project no failure has reached yet still lists its four default categories.
            project = int_query_param(self.request, "project", None, minimum=1)
            if project is not None and has_role(self.request.user, project, READ):
                services.categories_ensure(project)
        return super().get_queryset()

    def get_serializer_class(self):
        return CategoryUpdateSerializer if self.action in _UPDATES else CategorySerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.category_save(
            project_id=data["project"].pk, name=data["name"], position=data.get("position")
        )

    def perform_update(self, serializer):
        instance = serializer.instance
        services.category_save(
            project_id=instance.project_id,
            category=instance,
            name=serializer.validated_data.get("name", instance.name),
            position=serializer.validated_data.get("position"),
        )

    def perform_destroy(self, instance):
        services.category_delete(instance)


@extend_schema_view(list=extend_schema(parameters=[PROJECT_FILTER]))
class TriageRuleViewSet(_ProjectScoped):
    """Rules that put new failure groups in a category by a pattern on their error type or
    message: members read, maintainers write."""

    model = TriageRule

    def get_serializer_class(self):
        return TriageRuleUpdateSerializer if self.action in _UPDATES else TriageRuleSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.rule_save(
            project_id=data["project"].pk,
            category=data["category"],
            field=data["field"],
            pattern=data["pattern"],
            position=data.get("position", 0),
            enabled=data.get("enabled", True),
        )

    def perform_update(self, serializer):
        rule = serializer.instance
        data = serializer.validated_data
        services.rule_save(
            project_id=rule.project_id,
            rule=rule,
            category=data.get("category", rule.category),
            field=data.get("field", rule.field),
            pattern=data.get("pattern", rule.pattern),
            position=data.get("position", rule.position),
            enabled=data.get("enabled", rule.enabled),
        )
