from rest_framework import serializers

from executions.access import visible_project_ids
from executions.models import RunSchedule, TestCase, TestSuite
from executions.serializers.runs import LabelsField, PriorityField


class RunScheduleSerializer(serializers.ModelSerializer):
    priority = PriorityField(required=False)
    labels = LabelsField(required=False)
    next_run = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = RunSchedule
        fields = [
            "id",
            "project",
            "name",
            "test_case",
            "test_suite",
            "cron",
            "enabled",
            "priority",
            "parameters",
            "environment",
            "branch",
            "labels",
            "next_run",
            "last_run_at",
            "created_at",
        ]
        read_only_fields = ["last_run_at", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            visible = visible_project_ids(request.user)
            self.fields["test_case"].queryset = TestCase.objects.filter(project__in=visible)
            self.fields["test_suite"].queryset = TestSuite.objects.filter(project__in=visible)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["project"].read_only = True

    def validate(self, attrs):
        project = attrs.get("project") or getattr(self.instance, "project", None)
        case = attrs.get("test_case", getattr(self.instance, "test_case", None))
        suite = attrs.get("test_suite", getattr(self.instance, "test_suite", None))
        if (case is None) == (suite is None):
            raise serializers.ValidationError("Give exactly one of test_case or test_suite.")
        if (case or suite).project_id != project.pk:
            raise serializers.ValidationError("That test belongs to another project.")
        return attrs
