"""What a reported run (a CI job reporting its tests through the API) was sent, batch by batch."""

from django.db import models

from executions.models.runs import Execution


class ReportedBatch(models.Model):
    """One batch of results appended to a reported run, under the client's idempotency id: a
    client retrying after a timeout sends the same id and the batch is stored once."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="batches")
    batch_id = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)  # of the batch's results, as canonical JSON
    results = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["execution", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "batch_id"], name="reported_batch_once_per_run"
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} of execution #{self.execution_id} ({self.results} results)"
