"""Serializers for executions, attempts, events and the queue.

Input and output shapes differ: a client says what to run (ExecutionCreateSerializer); it reads the
execution back with its lifecycle fields (ExecutionSerializer). `status` is never writable.
"""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from catalog.access import remember_role, visible_project_ids, with_role_of
from catalog.models import CaseStatus, TestCase, TestSuite
from core import serializers as strict
from executions.models import Attempt, Execution, ExecutionEvent, Priority

PRIORITY_BY_NAME = {p.label.lower(): p.value for p in Priority}
MAX_LABELS = 50


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 0, "maximum": 100},
            {"type": "string", "enum": list(PRIORITY_BY_NAME)},
        ]
    }
)
class PriorityField(serializers.Field):
    """Accepts a level name ("high") or a number 0-100; answers with the number."""

    default_error_messages = {
        "invalid": "Give one of {names} or a number from 0 to 100.",
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and data.lower() in PRIORITY_BY_NAME:
            return PRIORITY_BY_NAME[data.lower()]
        if isinstance(data, int) and not isinstance(data, bool) and 0 <= data <= 100:
            return data
        self.fail("invalid", names=", ".join(PRIORITY_BY_NAME))

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": 200},
        "maxProperties": MAX_LABELS,
    }
)
class LabelsField(serializers.DictField):
    child = strict.CharField(max_length=200, allow_blank=True)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > MAX_LABELS:
            raise serializers.ValidationError(f"At most {MAX_LABELS} labels.")
        return value


class ExecutionCreateSerializer(serializers.Serializer):
    test_case = strict.PrimaryKeyRelatedField(
        queryset=TestCase.objects.none(), required=False, allow_null=True
    )
    test_suite = strict.PrimaryKeyRelatedField(
        queryset=TestSuite.objects.none(), required=False, allow_null=True
    )
    priority = PriorityField(required=False, default=Priority.NORMAL)
    parameters = serializers.DictField(required=False, default=dict)
    environment = strict.CharField(max_length=100, required=False, allow_blank=True)
    revision = strict.CharField(max_length=100, required=False, allow_blank=True)
    branch = strict.CharField(max_length=200, required=False, allow_blank=True)
    labels = LabelsField(required=False, default=dict)
    not_before = serializers.DateTimeField(required=False, allow_null=True)
    timeout_seconds = strict.IntegerField(required=False, min_value=1, max_value=7 * 86400)
    step_timeout_seconds = strict.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=86400
    )
    max_retries = strict.IntegerField(required=False, default=0, min_value=0, max_value=10)
    retry_backoff_seconds = strict.IntegerField(
        required=False, default=5, min_value=0, max_value=3600
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # Another project's case is "does not exist", never "forbidden".
            visible = visible_project_ids(request.user)
            # With the caller's role in the project: the view's permission check asks no more.
            cases = with_role_of(
                TestCase.objects.filter(project__in=visible).select_related("project"),
                request.user,
            )
            suites = with_role_of(
                TestSuite.objects.filter(project__in=visible).select_related("project"),
                request.user,
            )
            self.fields["test_case"].queryset = cases
            self.fields["test_suite"].queryset = suites

    def validate_parameters(self, value):
        if len(str(value)) > 64 * 1024:
            raise serializers.ValidationError("Parameters may hold at most 64 KiB.")
        return value

    def validate(self, attrs):
        case, suite = attrs.get("test_case"), attrs.get("test_suite")
        if (case is None) == (suite is None):
            raise serializers.ValidationError("Give exactly one of test_case or test_suite.")
        if case is not None and case.status == CaseStatus.DEPRECATED:
            raise serializers.ValidationError({"test_case": "This test case is deprecated."})
        target = case or suite
        attrs["project"] = target.project
        request = self.context.get("request")
        if request is not None and hasattr(target, "role_of_user"):
            remember_role(request.user, target.project_id, target.role_of_user)
        return attrs


# The request body of POST /executions/ for the schema: exactly one of test_case / test_suite, which
# the one serializer above checks in validate() and these two spell out as a oneOf.
class CaseRunSerializer(ExecutionCreateSerializer):
    test_case = strict.PrimaryKeyRelatedField(queryset=TestCase.objects.none())
    test_suite = None


class SuiteRunSerializer(ExecutionCreateSerializer):
    test_case = None
    test_suite = strict.PrimaryKeyRelatedField(queryset=TestSuite.objects.none())


class AttemptSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    triggered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Attempt
        fields = [
            "number",
            "reason",
            "outcome",
            "worker",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "error",
            "triggered_by",
        ]


class ExecutionSerializer(serializers.ModelSerializer):
    # Null for the other kind of run (a suite run has no case key): said so in the schema.
    test_case_key = serializers.CharField(
        source="test_case.key", read_only=True, default=None, allow_null=True
    )
    test_suite_name = serializers.CharField(
        source="test_suite.name", read_only=True, default=None, allow_null=True
    )
    # Any level from 0 to 100, not only the named ones (the model's choices would make an enum).
    priority = serializers.IntegerField(read_only=True, min_value=0, max_value=100)
    priority_label = serializers.CharField(source="get_priority_display", read_only=True)
    triggered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # The latest attempt's (started_at is its start): a re-run is not timed from the first start.
    duration_seconds = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = [
            "id",
            "project",
            "test_case",
            "test_case_key",
            "test_suite",
            "test_suite_name",
            "parent",
            "status",
            "status_reason",
            "priority",
            "priority_label",
            "trigger",
            "triggered_by",
            "parameters",
            "environment",
            "revision",
            "branch",
            "labels",
            "not_before",
            "timeout_seconds",
            "step_timeout_seconds",
            "max_retries",
            "retry_backoff_seconds",
            "max_parallel",
            "fail_fast",
            "created_at",
            "queued_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "worker",
            "attempt_count",
            "event_seq",
            "summary",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_seconds(self, execution) -> float | None:
        if execution.started_at and execution.finished_at:
            return round((execution.finished_at - execution.started_at).total_seconds(), 3)
        return None

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}
    )
    def get_links(self, execution) -> dict:
        request = self.context.get("request")

        def url(path: str) -> str:
            return request.build_absolute_uri(path) if request else path

        detail = reverse("execution-detail", args=[execution.pk])
        return {
            "self": url(detail),
            "events": url(f"{detail}events/"),
            "dashboard": url(f"/executions/{execution.pk}/"),
        }


class ExecutionDetailSerializer(ExecutionSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)
    attempts_duration_seconds = serializers.SerializerMethodField(
        help_text="All attempts together (`duration_seconds` is the latest attempt's); null "
        "until one has finished."
    )
    children = serializers.SerializerMethodField()

    class Meta(ExecutionSerializer.Meta):
        fields = [
            *ExecutionSerializer.Meta.fields,
            "attempts",
            "attempts_duration_seconds",
            "children",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_attempts_duration_seconds(self, execution) -> float | None:
        times = [a.duration_seconds for a in execution.attempts.all()]
        finished = [t for t in times if t is not None]
        return round(sum(finished), 3) if finished else None

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "test_case": {"type": "integer"},
                    "status": {"type": "string"},
                },
            },
        }
    )
    def get_children(self, execution) -> list[dict]:
        if not execution.is_suite_run:
            return []
        return list(execution.children.order_by("id").values("id", "test_case", "status"))


class RerunSerializer(serializers.Serializer):
    only_failed = strict.BooleanField(
        required=False,
        default=False,
        help_text="Suite runs: re-run only the children that did not pass.",
    )


class CancelSerializer(serializers.Serializer):
    reason = strict.CharField(required=False, allow_blank=True, max_length=500)


class ExecutionEventSerializer(serializers.ModelSerializer):
    # Null for what no person did (a worker's step, the watchdog, a CI hook): `actor_label` names it.
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ExecutionEvent
        fields = [
            "seq",
            "kind",
            "from_status",
            "to_status",
            "actor",
            "actor_label",
            "attempt_number",
            "reason",
            "data",
            "created_at",
        ]
        read_only_fields = fields


# One object, also where the queue's viewset calls it from `list` (drf-spectacular would otherwise
# document GET /queue/ as an array).
@extend_schema_serializer(many=False)
class QueueStatusSerializer(serializers.Serializer):
    paused = serializers.BooleanField()
    paused_reason = serializers.CharField()
    queued = serializers.IntegerField()
    queued_by_priority = serializers.DictField(child=serializers.IntegerField())
    claimable = serializers.IntegerField(help_text="Queued runs a worker may start now.")
    delayed = serializers.IntegerField()
    running = serializers.IntegerField()
    awaiting_input = serializers.IntegerField()
    oldest_queued_seconds = serializers.FloatField(allow_null=True)


class QueuePauseSerializer(serializers.Serializer):
    reason = strict.CharField(required=False, allow_blank=True, max_length=500)


# --- the list's fast path ---------------------------------------------------------------------
# ExecutionSerializer costs ~0.4 ms per row in DRF's field machinery; the list (CI pipelines poll
# it, the dashboard pages through it) builds the same dicts straight from .values() rows instead.
# tests/executions/test_execution_api.py checks both give the same output.

_ROW_FIELDS = {
    "id": "id",
    "project": "project_id",
    "test_case": "test_case_id",
    "test_case_key": "test_case__key",
    "test_suite": "test_suite_id",
    "test_suite_name": "test_suite__name",
    "parent": "parent_id",
    "status": "status",
    "status_reason": "status_reason",
    "priority": "priority",
    "trigger": "trigger",
    "triggered_by": "triggered_by__username",
    "parameters": "parameters",
    "environment": "environment",
    "revision": "revision",
    "branch": "branch",
    "labels": "labels",
    "not_before": "not_before",
    "timeout_seconds": "timeout_seconds",
    "step_timeout_seconds": "step_timeout_seconds",
    "max_retries": "max_retries",
    "retry_backoff_seconds": "retry_backoff_seconds",
    "max_parallel": "max_parallel",
    "fail_fast": "fail_fast",
    "created_at": "created_at",
    "queued_at": "queued_at",
    "started_at": "started_at",
    "finished_at": "finished_at",
    "worker": "worker",
    "attempt_count": "attempt_count",
    "event_seq": "event_seq",
    "summary": "summary",
}
_DATETIMES = ("not_before", "created_at", "queued_at", "started_at", "finished_at")
_PRIORITY_LABELS = dict(Priority.choices)


def execution_values(queryset):
    return queryset.values(*_ROW_FIELDS.values())


def _iso(value) -> str | None:
    """DRF's DateTimeField output: ISO 8601 in the current time zone, UTC written as Z."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def execution_as_dict(execution, request) -> dict:
    """One execution already in memory (with its case, suite and user loaded), in the list's shape:
    the response of POST /executions/, on every CI pipeline's critical path."""
    row = {}
    for source in _ROW_FIELDS.values():
        value = execution
        for name in source.split("__"):
            value = getattr(value, name) if value is not None else None
        row[source] = value
    return execution_rows_as_dicts([row], request)[0]


def execution_rows_as_dicts(rows, request) -> list[dict]:
    root = request.build_absolute_uri("/").rstrip("/")
    detail_prefix = root + reverse("execution-list")
    out = []
    for row in rows:
        item = {name: row[source] for name, source in _ROW_FIELDS.items()}
        for name in _DATETIMES:
            item[name] = _iso(item[name])
        item["priority_label"] = _PRIORITY_LABELS.get(item["priority"], str(item["priority"]))
        started, finished = row["started_at"], row["finished_at"]
        item["duration_seconds"] = (
            round((finished - started).total_seconds(), 3) if started and finished else None
        )
        detail = f"{detail_prefix}{item['id']}/"
        item["links"] = {
            "self": detail,
            "events": f"{detail}events/",
            "dashboard": f"{root}/executions/{item['id']}/",
        }
        out.append({name: item[name] for name in ExecutionSerializer.Meta.fields})
    return out
