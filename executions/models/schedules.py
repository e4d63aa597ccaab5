"""Recurring runs: a cron expression that starts a case or a suite. django-q2's scheduler fires
them (a django_q Schedule per RunSchedule, kept in step by executions.services.schedules)."""

from django.conf import settings
from django.db import models

from catalog.models.projects import Project, TestCase, TestSuite
from executions.models.runs import Priority


class RunSchedule(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=200)
    test_case = models.ForeignKey(
        TestCase, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    test_suite = models.ForeignKey(
        TestSuite, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    cron = models.CharField(
        max_length=100, help_text="Five cron fields, e.g. '0 2 * * *' for 02:00 every day (UTC)."
    )
    enabled = models.BooleanField(default=True)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.LOW)
    parameters = models.JSONField(default=dict, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    branch = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    q_schedule = models.OneToOneField(
        "django_q.Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="schedule_name_unique"),
            models.CheckConstraint(
                condition=(
                    models.Q(test_case__isnull=False, test_suite__isnull=True)
                    | models.Q(test_case__isnull=True, test_suite__isnull=False)
                ),
                name="schedule_runs_case_xor_suite",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cron})"

    @property
    def next_run(self):
        return self.q_schedule.next_run if self.q_schedule_id else None
