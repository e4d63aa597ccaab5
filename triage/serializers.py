"""Shapes of the triage API: groups, hits (one failed result in a group), categories, rules,
and the input of a triage."""

from rest_framework import serializers

from catalog.access import WRITE, visible_project_ids
from catalog.models import Project
from triage.models import Category, FailureGroup, GroupHit, GroupState, RuleField, TriageRule


class CategoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name"]


class FailureGroupSerializer(serializers.ModelSerializer):
    category = CategoryRefSerializer(read_only=True)
    branches = serializers.SerializerMethodField()
    triaged_by = serializers.CharField(source="triaged_label", read_only=True)

    class Meta:
        model = FailureGroup
        fields = [
            "id",
            "project",
            "signature",
            "error_type",
            "message",
            "first_seen_at",
            "last_seen_at",
            "occurrences",
            "cases_hit",
            "branches",
            "revisions",
            "last_state",
            "category",
            "comment",
            "issue_url",
            "triaged_by",
            "triaged_at",
        ]
        read_only_fields = fields

    def get_branches(self, group) -> list[str]:
        return sorted(group.branches)


class GroupHitSerializer(serializers.ModelSerializer):
    case_key = serializers.CharField(source="case.key", read_only=True)
    category = CategoryRefSerializer(read_only=True)

    class Meta:
        model = GroupHit
        fields = [
            "id",
            "group",
            "result",
            "case",
            "case_key",
            "run",
            "branch",
            "state",
            "category",
            "comment",
            "issue_url",
            "created_at",
        ]
        read_only_fields = fields


class TriageInputSerializer(serializers.Serializer):
    """Only the fields given change. `category`: an id of the project's categories; null on a
    single result clears its own triage (the group's applies again)."""

    category = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    issue_url = serializers.CharField(required=False, allow_blank=True, max_length=500)


def _writable_projects(serializer):
    request = serializer.context.get("request")
    if request is None or not request.user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(pk__in=visible_project_ids(request.user, WRITE))


class CategorySerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.none())

    class Meta:
        model = Category
        fields = ["id", "project", "name", "is_default", "position"]
        read_only_fields = ["is_default"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = _writable_projects(self)


class CategoryUpdateSerializer(CategorySerializer):
    class Meta(CategorySerializer.Meta):
        read_only_fields = ["project", "is_default"]


class TriageRuleSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.none())
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.none())
    field = serializers.ChoiceField(choices=RuleField.choices)

    class Meta:
        model = TriageRule
        fields = ["id", "project", "category", "field", "pattern", "position", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        projects = _writable_projects(self)
        self.fields["project"].queryset = projects
        self.fields["category"].queryset = Category.objects.filter(project__in=projects)


class TriageRuleUpdateSerializer(TriageRuleSerializer):
    class Meta(TriageRuleSerializer.Meta):
        read_only_fields = ["project"]


STATE_CHOICES = GroupState.values
