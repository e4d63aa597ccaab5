"""Shapes of the reported runs API (executions.api.reported)."""

from datetime import timedelta

from django.core.validators import RegexValidator
from django.urls import reverse
from rest_framework import serializers

from catalog.serializers import VisibleProjectField
from core import serializers as strict
from executions.models import Execution, ExecutionStatus
from executions.serializers.runs import LabelsField

S = ExecutionStatus
MAX_BATCH = 5000


# Code-point ranges rather than `\s`, which means more in Python than in the schema's ECMAScript
# regex (catalog.models.projects.WEBHOOK_URL_PATTERN).
CI_URL_PATTERN = r'^$|^https?://[^\x00-\x20\x7f-\xa0<>"]+$'


class ReportedRunOpenSerializer(serializers.Serializer):
    project = VisibleProjectField()
    name = strict.CharField(max_length=255, help_text="The suite the results belong to.")
    revision = strict.CharField(max_length=100, required=False, default="", allow_blank=True)
    branch = strict.CharField(max_length=200, required=False, default="", allow_blank=True)
    environment = strict.CharField(max_length=100, required=False, default="", allow_blank=True)
    # Bounded as a run's labels are (an outsider opened a run with 10,000, copied onto every
    # result of every batch: 120 MB for 500 results).
    labels = LabelsField(required=False)
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


# What one result may say, and what is kept of it. Long texts are cut, never refused: a test
# that printed a megabyte must not cost its whole batch a 400 (the plugin sends what it has). The
# tail of an output or a traceback is where the cause is; the head of a message says what failed.
NAME_MAX = 2000  # a parametrized pytest id can be long; the catalog key is derived to fit
MESSAGE_MAX = 4000
TAIL_MAX = 4000
# Outcomes a client may send -> the status the result counts as. xfail is an expected failure:
# neutral, as pytest's own JUnit XML reports it (skipped); a (non-strict) xpass passed.
OUTCOMES = {
    "passed": "passed",
    "failed": "failed",
    "error": "error",
    "skipped": "skipped",
    "xfailed": "skipped",
    "xpassed": "passed",
}


class CutCharField(strict.CharField):
    """A text of any length, cut to `keep` characters (its head or its tail): the schema says so
    instead of declaring a maxLength a client would have to enforce."""

    def __init__(self, *, keep: int, tail: bool, **kwargs) -> None:
        self.keep, self.tail = keep, tail
        part = "last" if tail else "first"
        kwargs.setdefault("help_text", f"Any length; the {part} {keep:,} characters are kept.")
        super().__init__(
            required=False, default="", allow_blank=True, trim_whitespace=False, **kwargs
        )

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if len(text) <= self.keep:
            return text
        return text[-self.keep :] if self.tail else text[: self.keep]


class ReportedResultSerializer(serializers.Serializer):
    key = strict.CharField(
        max_length=NAME_MAX,
        required=False,
        default="",
        allow_blank=True,
        help_text="The test's stable identity (e.g. pytest's node id). Without it the identity "
        "is classname + '.' + name, as a JUnit upload of the same test has it.",
    )
    name = strict.CharField(
        max_length=NAME_MAX,
        required=False,
        default="",
        allow_blank=True,
        help_text="Defaults to the key; a result with neither is named after its position in "
        "the run, as a JUnit import names a nameless testcase.",
    )
    classname = strict.CharField(max_length=NAME_MAX, required=False, default="", allow_blank=True)
    outcome = serializers.ChoiceField(
        choices=list(OUTCOMES),
        help_text="xfailed counts as skipped (an expected failure), xpassed as passed; the "
        "outcome sent is kept with the result.",
    )
    duration_ms = strict.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    message = CutCharField(keep=MESSAGE_MAX, tail=False)
    traceback = CutCharField(keep=TAIL_MAX, tail=True)
    stdout = CutCharField(keep=TAIL_MAX, tail=True)
    stderr = CutCharField(keep=TAIL_MAX, tail=True)
    attempt = strict.IntegerField(
        min_value=1,
        max_value=100,
        default=1,
        help_text="1 for a test's first run in this run; a rerun of the same test (e.g. "
        "pytest-rerunfailures) is 2, 3 ...: each attempt is a result of its own, and attempt n "
        "counts n-1 failed tries before it.",
    )


def result_step(data: dict) -> dict:
    """A validated result (ReportedResultSerializer) as a step of the run's trace. `test` keeps
    the identity the client sent: results.reported_runs derives the catalog case from it."""
    test_name = data["name"] or data["key"]
    # Empty when neither was sent: the service names it after its position.
    name = f"{data['classname']}.{test_name}" if data["classname"] and test_name else test_name
    status = OUTCOMES[data["outcome"]]
    # `kind` as a runner's steps have it (the dashboard shows it under the name).
    step = {"name": name, "kind": "reported", "status": status}
    step["test"] = {"key": data["key"], "classname": data["classname"], "name": test_name}
    if data["outcome"] != status:
        step["outcome"] = data["outcome"]
    step["attempt_of_test"] = data["attempt"]
    step["duration_ms"] = data.get("duration_ms")  # None: not measured (a skip)
    for field in ("message", "traceback", "stdout", "stderr"):
        if data[field]:
            step[field] = data[field]
    if status in ("failed", "error"):
        kind = "Failure" if status == "failed" else "Error"
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
    replaced_characters = strict.IntegerField(
        help_text="NULs and lone surrogates in the batch's texts, stored as U+FFFD."
    )


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
