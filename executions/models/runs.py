"""Executions, their attempts and their event log, and the persisted queue switch.

Status changes happen only through the django-fsm transitions below, called from
executions.services (one service per change); the field is protected so nothing else can assign it.
Transitions change `self` only: no I/O, no enqueue, no broadcast (those happen in the services).
Each names the columns it changes (`writes`): the one save of a change writes exactly those.
"""

import threading

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from catalog.models.projects import Project, TestCase, TestSuite


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its not-before time
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    AWAITING_INPUT = "awaiting_input", "Awaiting input"
    CANCELLING = "cancelling", "Cancelling"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    CANCELLED = "cancelled", "Cancelled"
    TIMED_OUT = "timed_out", "Timed out"
    # A reported run whose client went silent past its lease: what arrived is kept, and it says
    # nothing about the tests (kept apart from failed).
    INTERRUPTED = "interrupted", "Interrupted"


S = ExecutionStatus
TERMINAL = (S.PASSED, S.FAILED, S.ERROR, S.CANCELLED, S.TIMED_OUT, S.INTERRUPTED)
ACTIVE = (S.PENDING, S.QUEUED, S.RUNNING, S.AWAITING_INPUT, S.CANCELLING)
# States in which a worker holds the execution and must keep its lease fresh.
LEASED = (S.RUNNING, S.CANCELLING)
OUTCOMES = (S.PASSED, S.FAILED, S.ERROR)
# What _close changes: every transition that ends an execution writes these.
CLOSES = ("status_reason", "finished_at", "worker", "heartbeat_at")


def writes(*fields: str):
    """Name the columns a transition changes besides `status`. The ritual that saves a change
    (executions.services.transitions) writes exactly these with `update_fields`, so a transition
    that sets a column it does not name would lose it: tests/executions/test_transitions.py runs
    every transition and checks that it changes nothing else."""

    def name(method):
        method.writes = fields
        return method

    return name


class Priority(models.IntegerChoices):
    """Higher runs first. Gaps leave room for levels in between (LAVA uses 0-100)."""

    CRITICAL = 100, "Critical"
    HIGH = 75, "High"
    NORMAL = 50, "Normal"
    LOW = 25, "Low"
    BACKGROUND = 0, "Background"


class Trigger(models.TextChoices):
    USER = "user", "User"
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    CI = "ci", "CI hook"
    SUITE = "suite", "Suite run"
    RERUN = "rerun", "Re-run"
    IMPORT = "import", "Import"
    COMMAND = "command", "Management command"
    REPORTED = "reported", "Reported from CI"


# Serialises Execution.refresh_from_db across a process's threads (see there). Re-entrant: a
# refresh may load a deferred field, which refreshes again.
_REFRESHING = threading.RLock()


class Execution(ConcurrentTransitionMixin, models.Model):
    """One run of a case, or of a suite (a parent with one child per case)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="executions")
    test_case = models.ForeignKey(
        TestCase, null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    test_suite = models.ForeignKey(
        TestSuite, null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    status = FSMField(
        max_length=20, choices=ExecutionStatus.choices, default=S.QUEUED, protected=True
    )
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.USER)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parameters = models.JSONField(default=dict, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    revision = models.CharField(max_length=100, blank=True)
    branch = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict, blank=True)

    not_before = models.DateTimeField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField()
    step_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    max_retries = models.PositiveSmallIntegerField(default=0)
    retry_backoff_seconds = models.PositiveIntegerField(default=5)
    # Suite runs: options copied from the suite when triggered, so editing the suite later does not
    # change a run that is under way.
    max_parallel = models.PositiveSmallIntegerField(default=1)
    fail_fast = models.BooleanField(default=False)
    only_failed = models.BooleanField(default=False)  # a suite re-run of failed children only

    # Lifecycle bookkeeping, written by services only. The service that creates a run gives
    # created_at and queued_at the same instant (auto_now_add took a later one than the queue
    # time the service had just set, so every run was queued before it was created).
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)  # of the latest attempt
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # A reported run (its tests run in a CI job and report through the API) holds a lease of its
    # own length, renewed by each batch or heartbeat; null for the engine's runs, whose workers
    # hold IB_LEASE_SECONDS. The reaper interrupts a reported run silent for longer.
    lease_seconds = models.PositiveIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    event_seq = models.PositiveIntegerField(default=0)
    status_reason = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)  # step / child counts for progress bars
    rolled_up = models.BooleanField(default=False)  # result processing done for the last finish

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the claim query: best queued first
            models.Index(
                fields=["-priority", "queued_at", "id"],
                name="exec_claim_idx",
                condition=models.Q(status="queued"),
            ),
            # lists, newest first (the default ordering): read the first page, not sort them all
            models.Index(fields=["-created_at", "-id"], name="exec_newest"),
            # the overview's recent results, last 24 hours and trend: read a window of time, not
            # the whole table (docs/performance.md, "HTTP load")
            models.Index(fields=["-finished_at", "-id"], name="exec_finished_newest"),
            models.Index(fields=["project", "status", "created_at"], name="exec_project_status"),
            models.Index(fields=["test_case", "created_at"], name="exec_case_created"),
            models.Index(fields=["parent", "status"], name="exec_parent_status"),
            models.Index(fields=["status", "heartbeat_at"], name="exec_status_heartbeat"),
            models.Index(fields=["revision"], name="exec_revision"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(test_case__isnull=False, test_suite__isnull=True)
                    | models.Q(test_case__isnull=True, test_suite__isnull=False)
                ),
                name="execution_runs_case_xor_suite",
            )
        ]

    def __str__(self) -> str:
        target = self.test_suite or self.test_case
        return f"#{self.pk} {target} ({self.status})"

    def refresh_from_db(self, *args, **kwargs) -> None:
        """django-fsm's refresh (FSMModelMixin) turns the status field's `protected` off while it
        reloads and back on after; the field is shared by the whole process, and the web process
        answers in threads: a refresh ending beside another turned protection back on mid-way
        through it, which then failed with "Direct status modification is not allowed" (a 500 an
        outsider found with parallel reported-run calls). One refresh at a time, then."""
        with _REFRESHING:
            super().refresh_from_db(*args, **kwargs)

    @property
    def is_suite_run(self) -> bool:
        return self.test_suite_id is not None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    # --- transitions: change self only --------------------------------------------------------

    @writes("queued_at")
    @transition(field=status, source=S.PENDING, target=S.QUEUED)
    def release(self, now) -> None:
        """The not-before time has come."""
        self.queued_at = now

    @writes("worker", "started_at", "heartbeat_at", "deadline_at")
    @transition(field=status, source=S.QUEUED, target=S.RUNNING)
    def start(self, *, worker: str, now, deadline) -> None:
        self.worker = worker
        # The start of this attempt, not of the first: a re-run or retry reuses the execution,
        # and its duration (finished_at - started_at: dashboard, API, admin, metrics) is the
        # latest attempt's. Each attempt keeps its own times on its Attempt row.
        self.started_at = now
        self.heartbeat_at = now
        self.deadline_at = deadline

    @writes("worker", "heartbeat_at", "deadline_at")
    @transition(field=status, source=S.RUNNING, target=S.AWAITING_INPUT)
    def await_input(self, *, deadline) -> None:
        """A manual run: the worker lets go and people record the steps."""
        self.worker = ""
        self.heartbeat_at = None
        self.deadline_at = deadline

    @writes(*CLOSES)
    @transition(field=status, source=[S.RUNNING, S.AWAITING_INPUT], target=RETURN_VALUE(*OUTCOMES))
    def finish(self, *, outcome: str, reason: str, now) -> str:
        self._close(reason, now)
        return outcome

    @writes(*CLOSES)
    @transition(field=status, source=[S.PENDING, S.QUEUED], target=S.CANCELLED)
    def cancel(self, *, reason: str, now) -> None:
        """Nobody is running it: cancelled at once."""
        self._close(reason, now)

    @writes("status_reason")
    @transition(field=status, source=[S.RUNNING, S.AWAITING_INPUT], target=S.CANCELLING)
    def request_cancel(self, *, reason: str) -> None:
        """A worker (or a suite's children) must stop first; it confirms with `confirm_cancel`."""
        self.status_reason = reason

    @writes(*CLOSES)
    @transition(field=status, source=S.CANCELLING, target=S.CANCELLED)
    def confirm_cancel(self, *, now) -> None:
        self._close(self.status_reason, now)

    @writes(*CLOSES)
    @transition(field=status, source=[*LEASED, S.AWAITING_INPUT], target=S.TIMED_OUT)
    def time_out(self, *, reason: str, now) -> None:
        self._close(reason, now)

    @writes(*CLOSES)
    @transition(field=status, source=S.RUNNING, target=S.INTERRUPTED)
    def interrupt(self, *, reason: str, now) -> None:
        """A reported run's client went silent past its lease: closed with what arrived."""
        self._close(reason, now)

    @writes("worker", "heartbeat_at", "status_reason", "not_before")
    @transition(field=status, source=[S.RUNNING], target=S.QUEUED)
    def requeue(self, *, reason: str, now, not_before=None) -> None:
        """Another attempt: an automatic retry, or the worker was lost. `queued_at` stays: the
        execution keeps its place in the queue instead of waiting behind everything queued since."""
        self.worker = ""
        self.heartbeat_at = None
        self.status_reason = reason
        self.not_before = not_before

    @writes(*CLOSES)
    @transition(field=status, source=[S.RUNNING, S.CANCELLING], target=S.ERROR)
    def fail_lost(self, *, reason: str, now) -> None:
        """The worker was lost and no retry is left."""
        self._close(reason, now)

    @writes(
        "only_failed",
        "status_reason",
        "queued_at",
        "not_before",
        "finished_at",
        "deadline_at",
        "rolled_up",
    )
    @transition(field=status, source=list(TERMINAL), target=S.QUEUED)
    def rerun(self, *, now, only_failed: bool = False) -> None:
        """A person asked for another attempt of a finished execution."""
        self.only_failed = only_failed
        self.status_reason = ""
        self.queued_at = now
        self.not_before = None
        self.finished_at = None
        self.deadline_at = None
        self.rolled_up = False

    def _close(self, reason: str, now) -> None:
        self.status_reason = reason
        self.finished_at = now
        self.worker = ""
        self.heartbeat_at = None


class AttemptReason(models.TextChoices):
    FIRST = "first", "First run"
    RETRY = "retry", "Automatic retry"
    RERUN = "rerun", "Manual re-run"
    WORKER_LOST = "worker_lost", "Worker lost"


class Attempt(models.Model):
    """One try of an execution. Results belong to an attempt; nothing of an earlier one is lost."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=12, choices=AttemptReason.choices)
    outcome = models.CharField(max_length=20, choices=ExecutionStatus.choices, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["execution", "number"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "number"], name="attempt_number_unique")
        ]

    def __str__(self) -> str:
        return f"execution #{self.execution_id} attempt {self.number} ({self.reason})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class EventKind(models.TextChoices):
    TRANSITION = "transition", "Transition"
    STEP = "step", "Step result"
    ATTEMPT = "attempt", "Attempt started"
    LOG = "log", "Log"
    ALERT = "alert", "Alert"


class ExecutionEvent(models.Model):
    """The audit trail and the live feed. `seq` is gap-free and ordered per execution (taken under
    the execution's row lock), so a client that reconnects asks for `after=<seq>` and misses
    nothing."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="events")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)  # "worker host:123", "reaper"
    attempt_number = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["execution", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "seq"], name="event_seq_unique")
        ]
        indexes = [models.Index(fields=["project", "id"], name="event_project_feed")]

    def __str__(self) -> str:
        return f"#{self.execution_id}.{self.seq} {self.kind} {self.from_status}->{self.to_status}"


class QueueState(models.Model):
    """The persisted pause switch of the whole queue (a single row, id=1)."""

    paused = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "queue state"

    def __str__(self) -> str:
        return "paused" if self.paused else "running"

    @classmethod
    def get(cls) -> "QueueState":
        state, _ = cls.objects.get_or_create(pk=1)
        return state
