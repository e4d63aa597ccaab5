"""Schedules: created for one case or one suite of a project; that target and the project stay
(RunScheduleUpdateSerializer), everything else may change."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.access import visible_project_ids
from catalog.models import TestCase, TestSuite
from catalog.serializers import ParametersField
from core import serializers as strict
from executions.models import RunSchedule
from executions.serializers.runs import LabelsField, PriorityField


@extend_schema_field(
    {
        "type": "string",
        "format": "cron",
        "maxLength": 100,
        "description": "Five cron fields (minute hour day month weekday), e.g. '0 2 * * *' for "
        "02:00 every day (UTC); it must fire at least once.",
    }
)
class CronField(strict.CharField):
    pass


class RunScheduleSerializer(strict.ModelSerializer):
    cron = CronField(max_length=100)
    priority = PriorityField(required=False)
    parameters = ParametersField(required=False)
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
            for name, model in (("test_case", TestCase), ("test_suite", TestSuite)):
                if name in self.fields and not self.fields[name].read_only:
                    self.fields[name].queryset = model.objects.filter(project__in=visible)

    def validate(self, attrs):
        project = attrs.get("project") or getattr(self.instance, "project", None)
        case = attrs.get("test_case", getattr(self.instance, "test_case", None))
        suite = attrs.get("test_suite", getattr(self.instance, "test_suite", None))
        if (case is None) == (suite is None):
            raise serializers.ValidationError("Give exactly one of test_case or test_suite.")
        if (case or suite).project_id != project.pk:
            raise serializers.ValidationError("That test belongs to another project.")
        return attrs


class RunScheduleUpdateSerializer(RunScheduleSerializer):
    class Meta(RunScheduleSerializer.Meta):
        read_only_fields = ["project", "test_case", "test_suite", "last_run_at", "created_at"]


# The body of POST /schedules/ for the schema: a schedule runs exactly one case or one suite, which
# validate() above checks and these two spell out as a oneOf.
class CaseScheduleSerializer(RunScheduleSerializer):
    class Meta(RunScheduleSerializer.Meta):
        fields = [f for f in RunScheduleSerializer.Meta.fields if f != "test_suite"]
        extra_kwargs = {"test_case": {"required": True, "allow_null": False}}


class SuiteScheduleSerializer(RunScheduleSerializer):
    class Meta(RunScheduleSerializer.Meta):
        fields = [f for f in RunScheduleSerializer.Meta.fields if f != "test_case"]
        extra_kwargs = {"test_suite": {"required": True, "allow_null": False}}
