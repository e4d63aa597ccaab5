"""The test catalog: projects and their members, test cases, test suites."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models

from catalog.models.choices import CaseOrigin, CasePriority, CaseStatus, CaseType, Role
from catalog.steps import validate_case_content

key_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.:/\-\[\] ]*$",
    "A key starts with a letter or digit and holds letters, digits, spaces and _ . : / - [ ].",
)

# An http(s) address, said as a pattern the API schema carries (URLValidator's own rules are
# stricter than the `uri` format a client validates against). What may be called is decided when
# it is called (results.notify.webhook_target_refused).
# No control characters, spaces or <>" after the scheme, written as code-point ranges: `\s` means
# more in Python (U+001C-U+001F, U+0085) than in the schema's ECMAScript regex, so a URL the schema
# allowed was refused (schemathesis found it).
WEBHOOK_URL_PATTERN = r'^https?://[^\x00-\x20\x7f-\xa0<>"]+$'


class Project(models.Model):
    """The tenancy and permission boundary: everything else belongs to exactly one project."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    allowed_hosts = models.JSONField(
        default=list,
        blank=True,
        help_text="Hosts HTTP and browser steps may reach (e.g. 'api.example.com', '*.example.com', "
        "'127.0.0.1:8000'). Loopback is always allowed.",
    )
    # Upper bounds: the database would take up to 2**63 - 1, but pruning computes
    # now - retention_days, which overflows past year 1 (a crash of the prune job).
    max_concurrency = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(10_000)],
        help_text="At most this many executions of the project run at once.",
    )
    retention_days = models.PositiveIntegerField(
        default=90,
        validators=[MaxValueValidator(36_500)],
        help_text="Traces and events of finished executions older than this are pruned.",
    )
    # Off for a project whose failures are expected (the demo fails two cases on purpose): its
    # runs still count everywhere else, only the "high failure rate" alert leaves them out.
    failure_alerts = models.BooleanField(
        default=True,
        help_text="Its failed runs count towards the 'high failure rate' alert.",
    )
    # Called when a run finishes with newly failing tests (results.notify). Set by maintainers
    # only, and often a secret (a Slack incoming-webhook URL): the API never shows it back.
    webhook_url = models.CharField(
        max_length=500,
        blank=True,
        validators=[RegexValidator(WEBHOOK_URL_PATTERN, "Give an http(s) address.")],
        help_text="Slack-compatible incoming webhook called when a run newly fails (http or "
        "https; private and loopback addresses only if the server allows them).",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.allowed_hosts, list) or not all(
            isinstance(h, str) and h.strip() for h in self.allowed_hosts
        ):
            raise ValidationError({"allowed_hosts": "Give a list of host names."})


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class TestCase(models.Model):
    """A test: ordered steps of one type. `key` is its stable identity inside the project, so that
    results reported from outside (JUnit) attach to the same case run after run."""

    __test__ = False  # not a pytest class, despite the name

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="test_cases")
    key = models.CharField(max_length=255, validators=[key_validator])
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=10, choices=CaseType.choices, default=CaseType.GENERIC)
    origin = models.CharField(
        max_length=10,
        choices=CaseOrigin.choices,
        default=CaseOrigin.AUTHORED,
        help_text="Imported and reported cases only collect results from outside: they cannot run.",
    )
    steps = models.JSONField(default=list, blank=True)
    feature = models.TextField(blank=True, help_text="Gherkin source, for BDD cases.")
    parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="Default run parameters ({{ name }} in steps); a suite's and a run's win.",
    )
    preconditions = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(
        choices=CasePriority.choices, default=CasePriority.MEDIUM
    )
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.ACTIVE)
    quarantined = models.BooleanField(
        default=False,
        help_text="A quarantined case still runs and is recorded, but does not fail its suite.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "key"]
        constraints = [
            models.UniqueConstraint(fields=["project", "key"], name="case_key_unique_per_project")
        ]
        indexes = [models.Index(fields=["project", "status", "type"])]

    def __str__(self) -> str:
        return f"{self.key}: {self.name}"

    @property
    def is_runnable(self) -> bool:
        """Whether a run of it can be started: authored and not deprecated (the start-run form,
        the Run buttons and executions.services.create ask this)."""
        return self.origin == CaseOrigin.AUTHORED and self.status != CaseStatus.DEPRECATED

    def clean(self) -> None:
        validate_case_content(self.type, self.steps, self.feature, project_id=self.project_id)
        if not isinstance(self.parameters, dict):
            raise ValidationError({"parameters": "Give an object of names to values."})
        if not isinstance(self.tags, list) or not all(isinstance(t, str) for t in self.tags):
            raise ValidationError({"tags": "Give a list of strings."})


class TestSuite(models.Model):
    """An ordered selection of cases with run options."""

    __test__ = False

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="test_suites")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="Default run parameters for its cases; a run's own parameters win.",
    )
    max_parallel = models.PositiveSmallIntegerField(
        default=1, help_text="How many of its cases may run at the same time."
    )
    fail_fast = models.BooleanField(
        default=False, help_text="Cancel the remaining cases as soon as one fails."
    )
    cases = models.ManyToManyField(TestCase, through="SuiteItem", related_name="suites")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="suite_name_unique_per_project"
            ),
            models.CheckConstraint(
                condition=models.Q(max_parallel__gte=1), name="suite_max_parallel_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.parameters, dict):
            raise ValidationError({"parameters": "Give an object of names to values."})


class SuiteItem(models.Model):
    suite = models.ForeignKey(TestSuite, on_delete=models.CASCADE, related_name="items")
    case = models.ForeignKey(TestCase, on_delete=models.CASCADE, related_name="suite_items")
    order = models.PositiveIntegerField(default=0)
    skip = models.BooleanField(default=False)

    class Meta:
        ordering = ["suite", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["suite", "case"], name="case_once_per_suite")
        ]

    def __str__(self) -> str:
        return f"{self.suite} #{self.order}: {self.case.key}"

    def clean(self) -> None:
        if self.case_id and self.suite_id and self.case.project_id != self.suite.project_id:
            raise ValidationError({"case": "The case belongs to another project."})
