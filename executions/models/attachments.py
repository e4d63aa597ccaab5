"""Stored files of step results: what was uploaded or captured, kept apart from how it is stored.

The file itself lives in the default storage under a random name with no extension (so nothing a
user uploads can be run or imported by its name: no `conftest.py`, no `.html`); this row keeps
what the download needs: the name the file came with, and the type its bytes were sniffed as.
"""

from django.db import models

from executions.models.runs import Execution


class Attachment(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="attachments")
    # The storage path, `attachments/<execution>/<attempt>/<32 hex digits>`: what the URL names.
    path = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, help_text="The file's original name (never trusted).")
    content_type = models.CharField(
        max_length=100, help_text="Sniffed from the bytes, not taken from the name or the client."
    )
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.content_type}, execution #{self.execution_id})"
