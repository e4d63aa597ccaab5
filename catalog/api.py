"""Catalog endpoints: projects and their members, test cases, test suites.

Views check permissions (catalog.permissions), validate shapes (serializers) and call one
service per write (catalog.services). Querysets only ever hold the projects a user can
see, so another project's objects are a 404, never a 403.
"""

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from catalog import services as catalog
from catalog.access import visible_project_ids, visible_projects
from catalog.filters import TestCaseFilter, TestSuiteFilter
from catalog.models import Membership, Project, TestCase, TestSuite
from catalog.permissions import ProjectRole, ProjectRoleOnCreate
from catalog.serializers import (
    MembershipSerializer,
    MembershipSetSerializer,
    ProjectSerializer,
    TestCaseSerializer,
    TestCaseUpdateSerializer,
    TestSuiteSerializer,
    TestSuiteUpdateSerializer,
)

_UPDATES = ("update", "partial_update")


def _schema_only(view) -> bool:
    """drf-spectacular builds views without a real user to read their querysets' models."""
    return getattr(view, "swagger_fake_view", False)


@extend_schema_view(
    list=extend_schema(summary="Projects you are a member of"),
    create=extend_schema(summary="Create a project; you become its maintainer"),
)
class ProjectViewSet(viewsets.ModelViewSet):
    """Projects: members read, maintainers change and delete, anyone signed in creates."""

    serializer_class = ProjectSerializer
    permission_classes = [ProjectRole]
    filterset_fields = ["slug"]
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "slug", "created_at"]

    def get_queryset(self):
        if _schema_only(self):
            return Project.objects.none()
        user = self.request.user
        # One subquery instead of a role lookup per row for ProjectSerializer.role.
        role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
        return visible_projects(user).annotate(member_role=Subquery(role))

    def perform_create(self, serializer):
        fields = serializer.validated_data
        serializer.instance = catalog.project_create(creator=self.request.user, **fields)

    def perform_update(self, serializer):
        catalog.project_update(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        catalog.project_delete(instance)

    @extend_schema(
        methods=["GET"],
        summary="Members and their roles",
        responses=MembershipSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a member or change a member's role (maintainers)",
        request=MembershipSetSerializer,
        responses={200: MembershipSerializer, 201: MembershipSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        serializer_class=MembershipSetSerializer,  # the browsable API's form
        pagination_class=None,
        filter_backends=[],
    )
    def members(self, request, pk=None):
        project = self.get_object()
        if request.method == "GET":
            memberships = project.memberships.select_related("user").order_by("user__username")
            return Response(MembershipSerializer(memberships, many=True).data)
        serializer = MembershipSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership, created = catalog.membership_set(project, **serializer.validated_data)
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(MembershipSerializer(membership).data, status=answer)

    @extend_schema(
        summary="Remove a member (maintainers)",
        request=None,
        responses={204: None},
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path="members/<id:user_id>",
        pagination_class=None,
        filter_backends=[],
    )
    def remove_member(self, request, pk=None, user_id=None):
        project = self.get_object()
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound("This user is not a member of the project.")
        catalog.membership_remove(project, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    update=extend_schema(responses=TestCaseSerializer),
    partial_update=extend_schema(responses=TestCaseSerializer),
)
class TestCaseViewSet(viewsets.ModelViewSet):
    """Test cases: members read; maintainers write (testers run cases, they do not edit them)."""

    permission_classes = [ProjectRoleOnCreate]
    filterset_class = TestCaseFilter
    search_fields = ["key", "name"]
    ordering_fields = ["key", "name", "priority", "status", "created_at", "updated_at"]

    def get_queryset(self):
        if _schema_only(self):
            return TestCase.objects.none()
        return TestCase.objects.filter(project__in=visible_project_ids(self.request.user))

    def get_serializer_class(self):
        return TestCaseUpdateSerializer if self.action in _UPDATES else TestCaseSerializer

    def perform_create(self, serializer):
        fields = serializer.validated_data
        serializer.instance = catalog.case_create(created_by=self.request.user, **fields)

    def perform_update(self, serializer):
        catalog.case_update(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        catalog.case_delete(instance)


@extend_schema_view(
    update=extend_schema(responses=TestSuiteSerializer),
    partial_update=extend_schema(responses=TestSuiteSerializer),
)
class TestSuiteViewSet(viewsets.ModelViewSet):
    """Test suites and their ordered items: members read, maintainers write."""

    permission_classes = [ProjectRoleOnCreate]
    filterset_class = TestSuiteFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_queryset(self):
        if _schema_only(self):
            return TestSuite.objects.none()
        visible = TestSuite.objects.filter(project__in=visible_project_ids(self.request.user))
        return visible.prefetch_related("items__case")

    def get_serializer_class(self):
        return TestSuiteUpdateSerializer if self.action in _UPDATES else TestSuiteSerializer

    def perform_create(self, serializer):
        serializer.instance = catalog.suite_create(**serializer.validated_data)

    def perform_update(self, serializer):
        catalog.suite_update(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        catalog.suite_delete(instance)
