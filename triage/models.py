"""Failure groups and their triage.

A FailureGroup is one failure signature (results.signatures) in one project: when it was first
and last seen, how often, which cases, branches and revisions it hit, and what a person (or a
rule) said about it (category, comment, issue link). Each failed result that carries the
signature is a GroupHit, with the state the group had for that result's run (new, known,
regressed) and, optionally, a triage of its own that overrides the group's for that one result.
A CaseFix records a case that failed in its previous run and passes in this one. Everything here
is written by triage.grouping in the transaction that writes the results.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog.models import Project, TestCase
from results.models import CaseResult


class GroupState(models.TextChoices):
    """A group's state for one run. Ranked: a run's state is the highest of its hits'."""

    NEW = "new", "New"  # never seen before this run on this branch
    REGRESSED = "regressed", "Regressed"  # seen, absent for a passing run, back
    KNOWN = "known", "Known"


STATE_RANK = {GroupState.NEW: 3, GroupState.REGRESSED: 2, GroupState.KNOWN: 1}

DEFAULT_CATEGORIES = [
    ("To investigate", True),
    ("Product bug", False),
    ("Automation bug", False),
    ("Environment issue", False),
]


class Category(models.Model):
    """What a failure is, in a project's words. One per project is the default ("to
    investigate") that new groups start in."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="failure_categories"
    )
    name = models.CharField(max_length=80)
    is_default = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="category_name_unique"),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(is_default=True),
                name="category_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FailureGroup(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    signature = models.CharField(max_length=40)
    error_type = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True)  # of the first occurrence, as a sample
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    occurrences = models.PositiveIntegerField(default=0)
    cases_hit = models.PositiveIntegerField(default=0)
    # {branch: key of the run the group was first seen in on that branch}: "new on this branch".
    branches = models.JSONField(default=dict, blank=True)
    revisions = models.JSONField(default=list, blank=True)  # the last REVISIONS_KEPT, newest last
    last_run = models.CharField(max_length=40, blank=True)
    last_state = models.CharField(max_length=10, choices=GroupState.choices, default=GroupState.NEW)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="groups"
    )
    comment = models.TextField(blank=True)
    issue_url = models.URLField(max_length=500, blank=True)
    # Who said what the group is: a person (triaged_by) or a rule (triaged_label "rule #3").
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triaged_label = models.CharField(max_length=200, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "signature"], name="group_signature_unique")
        ]
        indexes = [
            models.Index(fields=["project", "-last_seen_at"], name="group_project_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.error_type or 'failure'} {self.signature[:10]}"


class GroupHit(models.Model):
    """One failed result in a group, with the group's state for its run."""

    group = models.ForeignKey(
        FailureGroup, on_delete=models.CASCADE, related_name="hits", db_index=False
    )
    result = models.OneToOneField(CaseResult, on_delete=models.CASCADE, related_name="group_hit")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    case = models.ForeignKey(TestCase, on_delete=models.CASCADE, related_name="+", db_index=False)
    run = models.CharField(max_length=40)  # results.runs.RunRef.key
    branch = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=GroupState.choices)
    # A triage of this one result; empty: the group's applies.
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="hits"
    )
    comment = models.TextField(blank=True)
    issue_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["group", "case"], name="grouphit_group_case"),
            # run keys name one run in the whole installation ("execution:12")
            models.Index(fields=["run"], name="grouphit_run"),
        ]

    def __str__(self) -> str:
        return f"{self.state} hit of group {self.group_id} in {self.run}"


class CaseFix(models.Model):
    """A case that failed in its previous run and passes in this one."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    case = models.ForeignKey(TestCase, on_delete=models.CASCADE, related_name="+", db_index=False)
    run = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "case"], name="casefix_once_per_run")]

    def __str__(self) -> str:
        return f"case {self.case_id} fixed in {self.run}"


class RuleField(models.TextChoices):
    ERROR_TYPE = "error_type", "Error type"
    MESSAGE = "message", "Message"


class TriageRule(models.Model):
    """A pattern on a new group's error type or message that puts it in a category (like
    Allure's categories). The first matching rule, by position, wins."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="triage_rules")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(max_length=10, choices=RuleField.choices)
    pattern = models.CharField(max_length=200)  # a regular expression, searched
    position = models.PositiveSmallIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.field} ~ {self.pattern} -> {self.category_id}"


class TriageEvent(models.Model):
    """The audit trail of triage: who (or which rule) set what on a group or a result."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(FailureGroup, on_delete=models.CASCADE, related_name="events")
    hit = models.ForeignKey(
        GroupHit, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    # {field: [before, after]} of what changed.
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "created_at"], name="triageevent_project_time")]

    def __str__(self) -> str:
        return f"triage of group {self.group_id} by {self.actor_label}"
