"""Shapes of the results API. Input and output serializers are separate where they differ."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import TestCase
from core import serializers as strict
from executions.serializers.runs import LabelsField, PriorityField
from results.models import CaseEvent, CaseResult, CaseStats, ImportBatch
from results.runs import RunRef
from results.summaries import run_summary

# --- traces ------------------------------------------------------------------------------------


class StepPageSerializer(serializers.Serializer):
    execution = serializers.IntegerField()
    attempt = serializers.IntegerField(allow_null=True)
    storage = serializers.CharField(allow_null=True)
    step_count = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    results = serializers.ListField(child=serializers.DictField())
    next_after = serializers.IntegerField(
        allow_null=True, help_text="Pass as `after` for the next page; null on the last page."
    )


# --- imports -----------------------------------------------------------------------------------


class JUnitImportParamsSerializer(serializers.Serializer):
    """The query string of an upload: where the report goes and what it is about."""

    project = serializers.IntegerField(help_text="Project id (the tester role is needed).")
    revision = serializers.CharField(max_length=100, required=False, allow_blank=True)
    branch = serializers.CharField(max_length=200, required=False, allow_blank=True)
    environment = serializers.CharField(max_length=100, required=False, allow_blank=True)
    idempotency_key = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Or the Idempotency-Key header. Without either, identical bytes are a repeat.",
    )


class JUnitUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The JUnit XML report.")


class ImportBatchSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    duplicate = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    what_matters = serializers.SerializerMethodField()

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "project",
            "source",
            "name",
            "filename",
            "idempotency_key",
            "content_sha256",
            "revision",
            "branch",
            "environment",
            "created_by",
            "created_at",
            "size_bytes",
            "suites",
            "new_cases",
            "totals",
            "duration_ms",
            "notes",
            "duplicate",
            "links",
            "what_matters",
        ]
        read_only_fields = fields

    def get_duplicate(self, batch) -> bool:
        """True when this upload was a repeat and nothing new was imported."""
        return bool(self.context.get("duplicate", False))

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "description": "On the upload's answer only: counts and lists of the new failure "
            "groups, regressions, fixed cases and known failures (results.summaries).",
        }
    )
    def get_what_matters(self, batch):
        if not self.context.get("what_matters"):
            return None
        return run_summary(RunRef.of_batch(batch.pk)).get("what_matters")

    def get_links(self, batch) -> dict[str, str]:
        request = self.context.get("request")
        path = f"/api/v1/imports/{batch.pk}/"
        url = request.build_absolute_uri(path) if request else path
        return {"self": url, "report": f"{url}report/?as=junit"}


# --- analytics ---------------------------------------------------------------------------------


class StatisticsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    error = serializers.IntegerField()
    skipped = serializers.IntegerField()
    pass_rate = serializers.FloatField(
        allow_null=True, help_text="passed / (passed + failed + error)"
    )
    duration_p50_ms = serializers.FloatField(allow_null=True)
    duration_p95_ms = serializers.FloatField(allow_null=True)
    queue_wait_p50_ms = serializers.FloatField(allow_null=True)
    queue_wait_p95_ms = serializers.FloatField(allow_null=True)


class TrendDaySerializer(StatisticsSerializer):
    day = serializers.DateField()


class AnalyticsSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    since = serializers.DateField()
    until = serializers.DateField()
    statistics = StatisticsSerializer(required=False)
    days = TrendDaySerializer(many=True, required=False)


class CaseResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseResult
        fields = [
            "id",
            "case",
            "execution",
            "attempt_number",
            "batch",
            "suite_name",
            "outcome",
            "retries",
            "duration_ms",
            "queue_wait_ms",
            "revision",
            "branch",
            "environment",
            "labels",
            "message",
            "details",
            "created_at",
        ]
        read_only_fields = fields


class CaseStatsSerializer(serializers.ModelSerializer):
    pass_rate = serializers.SerializerMethodField()
    last_outcome = serializers.CharField(help_text="Empty before the first result.")

    class Meta:
        model = CaseStats
        fields = [
            "runs",
            "passed",
            "failed",
            "errored",
            "skipped",
            "pass_rate",
            "last_outcome",
            "last_run_at",
            "recent",
            "flips",
            "flaky_score",
            "is_flaky",
            "flaky_reason",
        ]
        read_only_fields = fields

    def get_pass_rate(self, stats) -> float | None:
        decided = stats.passed + stats.failed + stats.errored
        return round(stats.passed / decided, 4) if decided else None


class CaseHealthSerializer(serializers.ModelSerializer):
    """A case with its stats (zeros when it has no results yet)."""

    case = serializers.IntegerField(source="pk")
    stats = serializers.SerializerMethodField()

    class Meta:
        model = TestCase
        fields = ["case", "project", "key", "name", "quarantined", "stats"]
        read_only_fields = fields

    @extend_schema_field(CaseStatsSerializer)
    def get_stats(self, case) -> dict:
        try:
            stats = case.stats
        except CaseStats.DoesNotExist:
            stats = CaseStats(case=case, project_id=case.project_id)
        return CaseStatsSerializer(stats).data


class FlakyCaseSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="case.key")
    name = serializers.CharField(source="case.name")
    quarantined = serializers.BooleanField(source="case.quarantined")

    class Meta:
        model = CaseStats
        fields = [
            "case",
            "key",
            "name",
            "quarantined",
            "flaky_score",
            "flaky_reason",
            "flips",
            "runs",
            "last_outcome",
            "last_run_at",
        ]
        read_only_fields = fields


class QuarantineSerializer(serializers.Serializer):
    quarantined = strict.BooleanField()
    reason = strict.CharField(max_length=1000, required=False, allow_blank=True, default="")


class CaseEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CaseEvent
        fields = ["id", "case", "kind", "actor", "actor_label", "reason", "data", "created_at"]
        read_only_fields = fields


# --- CI hooks ----------------------------------------------------------------------------------


class HookRunSerializer(serializers.Serializer):
    revision = strict.CharField(max_length=100, required=False, allow_blank=True, default="")
    branch = strict.CharField(max_length=200, required=False, allow_blank=True, default="")
    environment = strict.CharField(max_length=100, required=False, allow_blank=True, default="")
    parameters = serializers.DictField(required=False, default=dict)
    labels = LabelsField(required=False, default=dict)
    priority = PriorityField(required=False)


class HookRunResultSerializer(serializers.Serializer):
    execution = serializers.IntegerField()
    status = serializers.CharField()
    links = serializers.DictField(child=serializers.CharField())


class SuiteHookSerializer(serializers.Serializer):
    suite = serializers.IntegerField()
    configured = serializers.BooleanField()
    enabled = serializers.BooleanField()
    rotated_at = serializers.DateTimeField(allow_null=True)
    last_triggered_at = serializers.DateTimeField(allow_null=True)
    run_url = serializers.CharField()
    badge_url = serializers.CharField(allow_null=True)
    secret = serializers.CharField(
        required=False,
        help_text="Only in the answer to a rotation: keep it, it is not shown again.",
    )


# --- compare -----------------------------------------------------------------------------------


class CompareQuerySerializer(serializers.Serializer):
    """The query string of a comparison (results.api.compare)."""

    head = serializers.RegexField(
        r"^(execution:|import:)?[0-9]{1,18}$",
        help_text="The run to judge: execution:<id> (a suite, case or reported run; a bare id "
        "means an execution) or import:<id>.",
    )
    base = serializers.RegexField(
        r"^(previous|(execution:|import:)?[0-9]{1,18})$",
        required=False,
        default="previous",
        help_text="The run to compare with (default `previous`: the newest earlier finished "
        "run of the same suite, case or import name on the head's branch).",
    )
    bucket = serializers.ChoiceField(
        choices=[
            "newly_failing",
            "still_failing",
            "fixed",
            "new_tests",
            "removed_tests",
            "slower",
        ],
        required=False,
        help_text="Only this bucket (to page through it); default all of them.",
    )
    offset = serializers.IntegerField(min_value=0, max_value=10_000_000, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
    ratio = serializers.FloatField(
        min_value=1, max_value=1000, required=False, help_text="Slower from this many times."
    )
    min_delta_ms = serializers.IntegerField(
        min_value=0, max_value=2**31, required=False, help_text="... and by this much at least."
    )


class CompareSideSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    signature = serializers.CharField(
        help_text="The failure's signature (equal for the same fault in two runs); empty if it "
        "passed."
    )
    message = serializers.CharField(help_text="The failure's first line; empty if it passed.")
    execution = serializers.IntegerField(allow_null=True, source="execution_id")


class CompareRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    case = serializers.IntegerField(allow_null=True, source="case_id")
    base = CompareSideSerializer(allow_null=True)
    head = CompareSideSerializer(allow_null=True)
    same_signature = serializers.BooleanField()
    ratio = serializers.FloatField(allow_null=True, help_text="Head duration / base duration.")


class CompareBucketSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = CompareRowSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The next page of this bucket.")


class CompareRunSerializer(serializers.Serializer):
    ref = serializers.CharField()
    kind = serializers.CharField()
    id = serializers.IntegerField()
    label = serializers.CharField()
    branch = serializers.CharField()
    revision = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    page_url = serializers.CharField()


class ComparisonSerializer(serializers.Serializer):
    base = CompareRunSerializer(allow_null=True, help_text="null: no earlier comparable run.")
    head = CompareRunSerializer()
    ratio = serializers.FloatField()
    min_delta_ms = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    something_newly_fails = serializers.BooleanField()
    dashboard_url = serializers.CharField()
    buckets = serializers.DictField(child=CompareBucketSerializer())
