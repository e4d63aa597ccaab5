"""What monitoring keeps: worker liveness and the alerts it raised.

Execution events live in executions (ExecutionEvent); this app only reads them.
"""

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per worker process, refreshed by its watchdog thread (monitoring.workers.worker_seen).

    The dashboard's "workers last seen", the readiness check and the "no worker alive" alert read it.
    """

    worker_id = models.CharField(max_length=200, unique=True)  # "host:pid", as in Execution.worker
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(db_index=True)
    running = models.JSONField(default=list, blank=True)  # ids of the executions it runs
    # Since when it has run nothing, as its watchdog knows it; null while it runs something (or
    # when the reporter does not say). A live worker idle while startable work waits is a jam.
    idle_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.worker_id} (last seen {self.last_seen:%Y-%m-%d %H:%M:%S})"


class AlertKind(models.TextChoices):
    FAILURE_RATE = "failure_rate", "High failure rate"
    QUEUE_STUCK = "queue_stuck", "Queue stuck"
    NO_WORKER = "no_worker", "No worker alive"


class Alert(models.Model):
    """An alert condition from the moment it was seen until it cleared: the alert history.

    At most one open alert per kind (a partial unique constraint), so several web processes that
    evaluate at the same moment cannot raise the same alert twice.
    """

    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(cleared_at__isnull=True),
                name="one_open_alert_per_kind",
            )
        ]

    def __str__(self) -> str:
        state = "cleared" if self.cleared_at else "open"
        return f"{self.get_kind_display()} ({state}): {self.message}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None
