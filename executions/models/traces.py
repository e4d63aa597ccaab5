"""Step traces of attempts: inline JSON on the trace row for short traces, StepRecord rows past
IB_TRACE_INLINE_MAX_STEPS steps (executions.traces is the one accessor for both). They lived in the
results app until migration executions 0012, which moved them with their rows."""

from django.db import models

from executions.models.runs import Attempt, Execution


class TraceStorage(models.TextChoices):
    INLINE = "inline", "Inline (JSON on the trace row)"
    ROWS = "rows", "Step rows"


class Trace(models.Model):
    attempt = models.OneToOneField(Attempt, on_delete=models.CASCADE, related_name="trace")
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="traces")
    storage = models.CharField(
        max_length=6, choices=TraceStorage.choices, default=TraceStorage.INLINE
    )
    steps = models.JSONField(default=list, blank=True)  # only while storage == inline
    step_count = models.PositiveIntegerField(default=0)
    # The highest `order` stored: an append (the common case) needs no look-up of existing steps.
    last_order = models.IntegerField(default=-1)
    counts = models.JSONField(default=dict, blank=True)  # {"passed": 3, "failed": 1, ...}
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["execution"], name="trace_execution")]

    def __str__(self) -> str:
        return f"trace of {self.attempt} ({self.step_count} steps, {self.storage})"


class StepRecord(models.Model):
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="records")
    order = models.PositiveIntegerField()
    status = models.CharField(max_length=12)
    data = models.JSONField()

    class Meta:
        ordering = ["trace", "order"]
        constraints = [
            models.UniqueConstraint(fields=["trace", "order"], name="step_order_unique_per_trace")
        ]

    def __str__(self) -> str:
        return f"step {self.order} of trace {self.trace_id} ({self.status})"
