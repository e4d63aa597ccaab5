"""Shapes of the reported runs API (executions.api.reported)."""

from datetime import timedelta

from django.core.validators import RegexValidator
from django.urls import reverse
from rest_framework import serializers

from catalog.serializers import VisibleProjectField
from core import serializers as strict
from executions.models import Execution, ExecutionStatus

S = ExecutionStatus
MAX_BATCH = 5000
TEXT_MAX = 4000


CI_URL_PATTERN = r"^$|^https?://[^\s<>\"]+$"


class ReportedRunOpenSerializer(serializers.Serializer):
    project = VisibleProjectField()
    name = strict.CharField(max_length=255, help_text="The suite the results belong to.")
    revision = strict.CharField(max_length=100, required=False, default="", allow_blank=True)
    branch = strict.CharField(max_length=200, required=False, default="", allow_blank=True)
    environment = strict.CharField(max_length=100, required=False, default="", allow_blank=True)
    labels = serializers.DictField(child=strict.CharField(max_length=200), required=False)
    # An http(s) address, said as a pattern the schema carries: URLField's own rules (label
    # lengths, top-level domains) are stricter than the `uri` format a client validates against.
    ci_url = strict.CharField(
        max_length=500,
        required=False,
        default="",
        allow_blank=True,
        validators=[RegexValidator(CI_URL_PATTERN, "Give the CI job's http(s) address.")],
    )
    lease_seconds = strict.IntegerField(
        min_value=5,
        max_value=3600,
        default=60,
        help_text="Silent (no batch, no heartbeat) for longer than this, the run is closed as "
        "interrupted.",
    )
    timeout_seconds = strict.IntegerField(min_value=60, max_value=7 * 24 * 3600, required=False)


class ReportedResultSerializer(serializers.Serializer):
    name = strict.CharField(max_length=255)
    classname = strict.CharField(max_length=255, required=False, default="", allow_blank=True)
    outcome = serializers.ChoiceField(choices=["passed", "failed", "error", "skipped"])
    duration_ms = strict.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    message = strict.CharField(max_length=TEXT_MAX, required=False, default="", allow_blank=True)
    traceback = strict.CharField(max_length=TEXT_MAX, required=False, default="", allow_blank=True)
    stdout = strict.CharField(max_length=TEXT_MAX, required=False, default="", allow_blank=True)
    stderr = strict.CharField(max_length=TEXT_MAX, required=False, default="", allow_blank=True)
    attempt = strict.IntegerField(
        min_value=1, max_value=100, default=1, help_text="Retries of one test are attempts 2, 3 ..."
    )


def result_step(data: dict) -> dict:
    """A validated result (ReportedResultSerializer) as a step of the run's trace."""
    name = f"{data['classname']}.{data['name']}" if data["classname"] else data["name"]
    # `kind` as a runner's steps have it (the dashboard shows it under the name).
    step = {"name": name, "kind": "reported", "status": data["outcome"]}
    step["attempt_of_test"] = data["attempt"]
    step["duration_ms"] = data.get("duration_ms")  # None: not measured (a skip)
    for field in ("message", "traceback", "stdout", "stderr"):
        if data[field]:
            step[field] = data[field]
    if data["outcome"] in ("failed", "error"):
        kind = "Failure" if data["outcome"] == "failed" else "Error"
        step["error"] = {"type": kind, "message": data["message"], "traceback": data["traceback"]}
    return step


class ReportedBatchSerializer(serializers.Serializer):
    batch_id = strict.CharField(
        max_length=100,
        help_text="Unique per batch: a retried batch with the same id is stored once.",
    )
    results = ReportedResultSerializer(many=True, max_length=MAX_BATCH)

    def steps(self) -> list[dict]:
        return [result_step(row) for row in self.validated_data["results"]]


class ReportedBatchResultSerializer(serializers.Serializer):
    stored = strict.IntegerField()
    duplicate = strict.BooleanField()
    status = strict.CharField()


class ReportedCloseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[S.PASSED, S.FAILED, S.ERROR],
        required=False,
        help_text="Default: failed when any result failed or erred, else passed.",
    )


class ReportedRunSerializer(serializers.ModelSerializer):
    suite = strict.CharField(source="test_suite.name", read_only=True)
    dashboard_url = serializers.SerializerMethodField()
    lease_expires_at = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = [
            "id",
            "project",
            "suite",
            "status",
            "status_reason",
            "revision",
            "branch",
            "environment",
            "labels",
            "lease_seconds",
            "lease_expires_at",
            "heartbeat_at",
            "started_at",
            "finished_at",
            "summary",
            "dashboard_url",
        ]
        read_only_fields = fields

    def get_dashboard_url(self, run) -> str:
        path = reverse("dashboard:execution", kwargs={"execution_id": run.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_lease_expires_at(self, run) -> str | None:
        if run.status != S.RUNNING or run.heartbeat_at is None or run.lease_seconds is None:
            return None
        return (run.heartbeat_at + timedelta(seconds=run.lease_seconds)).isoformat()
