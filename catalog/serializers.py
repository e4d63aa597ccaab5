"""Serializers of the catalog API. They check shapes and types; the rules (valid steps, a key
free in the project, items of the same project) live in catalog.services, which the
views call, so the admin and the API answer the same."""

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.access import role_in, visible_project_ids, visible_projects
from catalog.models import Membership, Project, Role, SuiteItem, TestCase, TestSuite
from catalog.models.projects import WEBHOOK_URL_PATTERN
from core import serializers as strict


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "object", "additionalProperties": True},
        "description": "GENERIC: [{action, params, name?, expected?, capture?, timeout?, "
        "continue_on_failure?}]; MANUAL: [{instruction, expected?, name?, data?}]; BDD: [].",
    }
)
class StepsField(serializers.JSONField):
    """Any JSON on the way in, so that catalog.steps words the errors (step 2: unknown
    action 'clik'), not DRF's generic type messages."""


class ParametersField(serializers.DictField):
    """Run parameters: an object of names to any JSON values (the model refuses anything else;
    this also says so in the schema, where a bare JSONField would allow null or a list)."""


class VisibleProjectField(strict.PrimaryKeyRelatedField):
    """A project the requesting user can see (ProjectRoleOnCreate has already answered 404 for
    the others; this keeps the serializer safe on its own)."""

    def get_queryset(self):
        return visible_projects(self.context["request"].user)


class VisibleCaseField(strict.PrimaryKeyRelatedField):
    def get_queryset(self):
        user = self.context["request"].user
        return TestCase.objects.filter(project__in=visible_project_ids(user))


# --- Projects ---------------------------------------------------------------------------------


class ProjectSerializer(strict.ModelSerializer):
    allowed_hosts = serializers.ListField(child=strict.CharField(max_length=255), required=False)
    # Named `role` (not my_role) so the schema shares one RoleEnum with memberships.
    role = serializers.SerializerMethodField(help_text="Your role in this project.")

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "allowed_hosts",
            "max_concurrency",
            "retention_days",
            "webhook_url",
            "has_webhook",
            "role",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        # A taken slug is the service's to report (catalog_validate), as for the admin; the
        # SlugField keeps its own pattern check. The webhook URL is often a secret (Slack's
        # carries its token): written by maintainers, never read back; `has_webhook` says if set.
        extra_kwargs = {"slug": {"validators": []}, "webhook_url": {"write_only": True}}

    has_webhook = serializers.SerializerMethodField(help_text="A run webhook is set.")
    webhook_url = strict.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        write_only=True,
        validators=[RegexValidator(f"^$|{WEBHOOK_URL_PATTERN}", "Give an http(s) address.")],
        help_text="Called when a run newly fails (Slack-compatible JSON); never shown back.",
    )

    def get_has_webhook(self, project: Project) -> bool:
        return bool(project.webhook_url)

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, project: Project) -> str | None:
        """The requesting user's role in the project (maintainer for superusers)."""
        user = self.context["request"].user
        if hasattr(project, "member_role") and not user.is_superuser:
            return project.member_role  # annotated by ProjectViewSet: no query per row
        return role_in(user, project.pk)


class MembershipSerializer(strict.ModelSerializer):
    username = serializers.CharField(source="user.get_username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "username", "role"]
        read_only_fields = ["user"]


class MembershipSetSerializer(serializers.Serializer):
    """Add a member, or change a member's role.

    The user is named by username or email address, never by id: ids count up, so a form that
    took them would let anyone signed in list every account (add id 1, 2, 3 to a project of their
    own and read the usernames back). An unknown, inactive or ambiguous name gets one answer that
    says no more than what the maintainer typed.
    """

    UNKNOWN_USER = "No active user has this username or email address."

    user = strict.CharField(
        max_length=254,
        help_text="The user's username, or their email address (exact match).",
    )
    role = strict.ChoiceField(choices=Role.choices)

    def validate_user(self, value: str):
        users = get_user_model().objects.filter(is_active=True)
        found = list(users.filter(username=value)[:1])
        if not found and "@" in value:
            # Email addresses are not unique in Django's user model: two matches are ambiguous.
            found = list(users.filter(email__iexact=value)[:2])
        if len(found) != 1:
            # "No such object": a 404 like an unknown id in any body (core.api_errors).
            raise serializers.ValidationError(self.UNKNOWN_USER, code="does_not_exist")
        return found[0]


# --- Test cases -------------------------------------------------------------------------------

_CASE_FIELDS = [
    "id",
    "project",
    "key",
    "name",
    "description",
    "type",
    "origin",
    "steps",
    "feature",
    "parameters",
    "preconditions",
    "priority",
    "tags",
    "status",
    "quarantined",
    "created_by",
    "created_at",
    "updated_at",
]


class TestCaseSerializer(strict.ModelSerializer):
    """A test case. `project` is given on create and cannot change afterwards."""

    project = VisibleProjectField()
    steps = StepsField(required=False)
    parameters = ParametersField(required=False)
    tags = serializers.ListField(child=strict.CharField(max_length=100), required=False)

    class Meta:
        model = TestCase
        fields = _CASE_FIELDS
        # Where a case came from is set by who made it (an import, a command step), not by a client.
        read_only_fields = ["origin", "created_by", "created_at", "updated_at"]
        # Gherkin is indentation-sensitive text; store it exactly as written.
        extra_kwargs = {"feature": {"trim_whitespace": False}}
        # DRF would check (project, key) itself and word it as a non-field error; the service
        # reports a taken key on `key`, for the API and the admin alike.
        validators = []


class TestCaseUpdateSerializer(TestCaseSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(TestCaseSerializer.Meta):
        pass


# --- Test suites ------------------------------------------------------------------------------


class SuiteItemSerializer(strict.ModelSerializer):
    case = VisibleCaseField(queryset=TestCase.objects.all())
    case_key = serializers.CharField(source="case.key", read_only=True)
    order = strict.IntegerField(
        min_value=0,
        max_value=1_000_000,
        required=False,
        help_text="Defaults to the item's position in the list.",
    )

    class Meta:
        model = SuiteItem
        fields = ["case", "case_key", "order", "skip"]

    def validate(self, attrs):
        # A PATCH of the suite makes DRF skip missing fields in its items too; but `items`
        # replaces them all, so each one must still name its case.
        if "case" not in attrs:
            raise serializers.ValidationError({"case": "This field is required."})
        return attrs


class TestSuiteSerializer(strict.ModelSerializer):
    """A suite with its ordered items. Writing `items` replaces all of them in one transaction;
    leaving it out of an update keeps them."""

    project = VisibleProjectField()
    items = SuiteItemSerializer(many=True, required=False)
    parameters = ParametersField(required=False)
    tags = serializers.ListField(child=strict.CharField(max_length=100), required=False)
    max_parallel = strict.IntegerField(min_value=1, max_value=1000, required=False)

    class Meta:
        model = TestSuite
        fields = [
            "id",
            "project",
            "name",
            "description",
            "tags",
            "parameters",
            "max_parallel",
            "fail_fast",
            "items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # (project, name) is checked by the service, reported on `name`


class TestSuiteUpdateSerializer(TestSuiteSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(TestSuiteSerializer.Meta):
        pass
