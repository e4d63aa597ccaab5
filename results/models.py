"""Results: traces of attempts, per-case results and history, JUnit imports, CI hooks.

Traces (executions.models.traces): small traces live inline, as a JSON list on the trace row (one row read, one row written).
At IB_TRACE_INLINE_MAX_STEPS steps the trace is promoted to StepRecord rows in one transaction, so
appending stays O(1) however long the trace grows. executions.traces is the one accessor for both.

CaseResult is the one table per-case history, statistics and flaky detection read. Three sources
write it: result processing after an engine finish (one row per finish of a case execution),
JUnit imports (one row per imported testcase, grouped by an ImportBatch) and reported runs (one
row per attempt of each test, as its batch arrives). CaseStats is the
per-case summary kept up to date by all three, so "flaky tests" and "history" never scan CaseResult.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog.models import Project, TestCase, TestSuite
from executions.models import Execution


class CaseOutcome(models.TextChoices):
    """The four outcomes JUnit knows; engine statuses map onto them (results.processing)."""

    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    SKIPPED = "skipped", "Skipped"


FAILING_OUTCOMES = (CaseOutcome.FAILED, CaseOutcome.ERROR)  # what a failure signature is made for


class ImportBatch(models.Model):
    """One uploaded JUnit report: the suite-like parent of its CaseResults. Imports stay out of the
    Execution lifecycle (nothing runs, nothing is queued); reports of an import read this row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_batches")
    source = models.CharField(max_length=20, default="junit")
    # The client's Idempotency-Key, or "sha256:<hex of the body>" when none was given: uploading
    # the same report twice is a no-op either way.
    idempotency_key = models.CharField(max_length=200)
    content_sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255, blank=True)  # the root <testsuites name=...>
    revision = models.CharField(max_length=100, blank=True)
    branch = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    size_bytes = models.PositiveBigIntegerField(default=0)
    suites = models.PositiveIntegerField(default=0)
    new_cases = models.PositiveIntegerField(default=0)
    # {"tests", "passed", "failed", "error", "skipped", "retries"}
    totals = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveBigIntegerField(default=0)
    # What was changed to read the report, [{"code", "count", "message"}] (results.junit
    # JUnitReader.notes): kept so that a repeated upload is told the same as the first.
    notes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "idempotency_key"], name="import_idempotency_key_unique"
            )
        ]
        indexes = [models.Index(fields=["project", "created_at"], name="import_project_time")]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.filename or 'JUnit XML'} ({self.totals.get('tests', 0)} tests)"


class CaseResult(models.Model):
    """One result of one case: a finish of an engine execution, one imported testcase, or one
    attempt of a test a reported run streamed in (results.reported_runs)."""

    # Foreign keys without their own index where a composite index below starts with them.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    case = models.ForeignKey(
        TestCase, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    execution = models.ForeignKey(
        Execution,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="case_results",
        db_index=False,
    )
    attempt_number = models.PositiveSmallIntegerField(null=True, blank=True)
    batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.CASCADE, related_name="results"
    )
    suite_name = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=8, choices=CaseOutcome.choices)
    # Failed tries before this outcome within the same run: automatic retries of the engine, or
    # Surefire's flakyFailure / rerunFailure. A pass with retries is flaky on its own.
    retries = models.PositiveSmallIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    queue_wait_ms = models.PositiveIntegerField(null=True, blank=True)
    revision = models.CharField(max_length=100, blank=True)
    branch = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    # Imports: {"classname", "name", "type", "text", "system_out", "system_err", "properties",
    # "file", "line", "reruns": [...]}; engine runs: {"error": {...}} of the last attempt.
    details = models.JSONField(default=dict, blank=True)
    # The failure's signature (results.signatures): 40 hex characters for a failed or errored
    # result, empty for the others. Written with the row; failure groups (triage) and the
    # compare of two runs read it.
    signature = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Result processing may run twice for one finish (idempotent): one row per attempt
            # of a case (an engine run has one case; a reported run, one per test it reported).
            models.UniqueConstraint(
                fields=["execution", "case", "attempt_number"],
                condition=models.Q(execution__isnull=False),
                name="case_result_once_per_case_attempt",
            ),
            models.CheckConstraint(
                condition=models.Q(execution__isnull=False, batch__isnull=True)
                | models.Q(execution__isnull=True, batch__isnull=False),
                name="case_result_one_source",
            ),
        ]
        indexes = [
            # Analytics: per project over a date range. The included columns make the statistics
            # an index-only scan on PostgreSQL (other databases ignore `include`).
            models.Index(
                fields=["project", "created_at"],
                include=["outcome", "duration_ms", "queue_wait_ms"],
                name="caseresult_project_time",
            ),
            # Per-case history, newest first.
            models.Index(fields=["case", "created_at"], name="caseresult_case_time"),
            # Label filters of the analytics: branch and environment over time.
            models.Index(fields=["project", "branch", "created_at"], name="caseresult_branch"),
            models.Index(
                fields=["project", "environment", "created_at"], name="caseresult_environment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.outcome} at {self.created_at:%Y-%m-%d %H:%M}"


class CaseStats(models.Model):
    """Per-case summary: counts, the recent window used by flaky detection, the flaky score."""

    case = models.OneToOneField(
        TestCase, primary_key=True, on_delete=models.CASCADE, related_name="stats"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    runs = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errored = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    last_outcome = models.CharField(max_length=8, choices=CaseOutcome.choices, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    # The last IB_FLAKY_WINDOW results, oldest first: [{"o", "ms", "rev", "r", "at"}], and
    # "setup": true on an error of the run's set-up (results.history.SETUP_ERRORS).
    recent = models.JSONField(default=list, blank=True)
    flips = models.PositiveSmallIntegerField(default=0)
    flaky_score = models.FloatField(default=0.0)
    is_flaky = models.BooleanField(default=False)
    flaky_reason = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "case stats"
        indexes = [
            models.Index(
                fields=["project", "-flaky_score"],
                condition=models.Q(is_flaky=True),
                name="casestats_flaky",
            ),
            models.Index(fields=["project", "last_run_at"], name="casestats_project_last_run"),
        ]

    def __str__(self) -> str:
        return f"stats of case {self.case_id}: {self.runs} runs, flaky {self.flaky_score:.2f}"


class CaseEventKind(models.TextChoices):
    QUARANTINED = "quarantined", "Quarantined"
    RELEASED = "released", "Released from quarantine"
    FLAKY = "flaky", "Detected as flaky"
    STABLE = "stable", "No longer flaky"


class CaseEvent(models.Model):
    """The audit trail of a case's health: quarantine changes (who, why) and flaky detection."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    case = models.ForeignKey(TestCase, on_delete=models.CASCADE, related_name="health_events")
    kind = models.CharField(max_length=12, choices=CaseEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "created_at"], name="caseevent_project_time")]

    def __str__(self) -> str:
        return f"case {self.case_id} {self.kind} at {self.created_at:%Y-%m-%d %H:%M}"


class SuiteHook(models.Model):
    """The CI hook of a suite: `secret` signs (HMAC-SHA256) or authenticates (token) trigger calls;
    `badge_key` only reads the status badge, so it may sit in a public README."""

    suite = models.OneToOneField(
        TestSuite, primary_key=True, on_delete=models.CASCADE, related_name="hook"
    )
    # Kept in clear: verifying an HMAC needs the key itself, as with any webhook secret.
    secret = models.CharField(max_length=64)
    badge_key = models.CharField(max_length=32)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rotated_at = models.DateTimeField(default=timezone.now)
    last_triggered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"CI hook of suite {self.suite_id}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Given up"


class RunNotification(models.Model):
    """The one webhook call about one finished run (results.notify). Unique per run, created in a
    transaction and claimed by compare-and-swap before each try, so a run is announced at most
    once however often its task is delivered. A try that died mid-send stays `sending`: it may
    have reached the receiver, so it is never tried again."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    execution = models.OneToOneField(
        Execution, null=True, blank=True, on_delete=models.CASCADE, related_name="notification"
    )
    batch = models.OneToOneField(
        ImportBatch, null=True, blank=True, on_delete=models.CASCADE, related_name="notification"
    )
    url = models.CharField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(
        max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    tries = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(execution__isnull=False, batch__isnull=True)
                | models.Q(execution__isnull=True, batch__isnull=False),
                name="run_notification_one_run",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_try_at"],
                condition=models.Q(status="pending"),
                name="run_notification_due",
            )
        ]

    def __str__(self) -> str:
        run = f"execution #{self.execution_id}" if self.execution_id else f"import #{self.batch_id}"
        return f"notification of {run} ({self.status})"
