"""Dashboard forms. They validate input; the views hand the cleaned data to the services."""

import json

from django import forms

from catalog.models import CaseOrigin, CaseStatus, Project, TestCase, TestSuite
from core.ids import parse_id
from executions.filters import LABEL_FILTER_PATTERN
from executions.models import ExecutionStatus, Priority, Trigger


class JSONObjectField(forms.CharField):
    """A textarea holding a JSON object; empty means {}."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "mono"})

    def to_python(self, value):
        text = (super().to_python(value) or "").strip()
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise forms.ValidationError('Give a JSON object, like {"base_url": "http://..."}.')
        return data

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, indent=2) if value else ""
        return value


class StartRunForm(forms.Form):
    """Run a case or a suite of one project. `target` is "case:<id>" or "suite:<id>"."""

    target = forms.ChoiceField(label="What to run")
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.NORMAL)
    parameters = JSONObjectField(
        required=False, help_text="Variables the steps can use, as a JSON object."
    )
    labels = JSONObjectField(required=False, help_text="Free-form labels, as a JSON object.")
    environment = forms.CharField(max_length=100, required=False)
    revision = forms.CharField(max_length=100, required=False)
    branch = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        cases = TestCase.objects.filter(project=project, origin=CaseOrigin.AUTHORED).exclude(
            status=CaseStatus.DEPRECATED
        )
        suites = TestSuite.objects.filter(project=project)
        # A blank first choice: nothing is run that the tester did not pick (a link to a case
        # that cannot be run used to leave the browser showing, and running, the first case).
        self.fields["target"].choices = [
            ("", "Choose a case or a suite"),
            ("Test cases", [(f"case:{c.pk}", f"{c.key}: {c.name}") for c in cases.order_by("key")]),
            ("Test suites", [(f"suite:{s.pk}", s.name) for s in suites.order_by("name")]),
        ]

    def refusal_of(self, target: str) -> str:
        """Why the `?target=` a page linked to is not offered ("" when it is, or none was given)."""
        kind, _, number = target.partition(":")
        pk = parse_id(number)  # a number the database cannot hold is no id (PostgreSQL refuses it)
        if not target or pk is None or kind not in ("case", "suite"):
            return "" if not target else "That link names no case or suite of this project."
        if kind == "suite":
            found = TestSuite.objects.filter(project=self.project, pk=pk).exists()
            return "" if found else "That link names no suite of this project."
        case = TestCase.objects.filter(project=self.project, pk=pk).first()
        if case is None:
            return "That link names no case of this project."
        if case.status == CaseStatus.DEPRECATED:
            return f"{case.key} is deprecated: deprecated cases cannot be run."
        return ""

    def clean_target(self):
        kind, _, pk = self.cleaned_data["target"].partition(":")
        model = TestCase if kind == "case" else TestSuite
        target = model.objects.filter(project=self.project, pk=pk).first()
        if target is None:
            raise forms.ValidationError("Choose a case or a suite of this project.")
        return target

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        target = data["target"]
        return {
            "test_case": target if isinstance(target, TestCase) else None,
            "test_suite": target if isinstance(target, TestSuite) else None,
            "priority": data["priority"],
            "parameters": data["parameters"],
            "labels": data["labels"],
            "environment": data["environment"],
            "revision": data["revision"],
            "branch": data["branch"],
        }


class PauseQueueForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)


class QuarantineForm(forms.Form):
    quarantined = forms.BooleanField(required=False)
    reason = forms.CharField(max_length=500, required=False)


class RerunForm(forms.Form):
    only_failed = forms.BooleanField(required=False)


class ManualStepForm(forms.Form):
    """One manual step's result, as a tester records it."""

    STATUSES = [
        ("passed", "Passed"),
        ("failed", "Failed"),
        ("blocked", "Blocked"),
        ("skipped", "Skipped"),
    ]

    order = forms.IntegerField(min_value=1, widget=forms.HiddenInput)  # 1-based, like the runners
    # The attempt the page showed: a form left open across a re-run must not record into the next.
    attempt = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    # No default: a tester who only types what happened must not record a pass by accident.
    status = forms.ChoiceField(
        choices=[("", "Choose the result…"), *STATUSES],
        error_messages={
            "required": "Choose the step's result: passed, failed, blocked or skipped."
        },
    )
    actual = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="What happened"
    )
    note = forms.CharField(required=False, max_length=10_000, label="Note")
    attachment = forms.FileField(required=False, label="Screenshot or file")


class ExecutionSearchForm(forms.Form):
    """The executions page's filters (every field optional; GET, so a filtered list is a link).

    Project and suite are chosen among what the user may see; the rest is free text checked for
    form, as the API's filters check it (executions.filters.ExecutionFilter, which the page's
    query goes through)."""

    SCOPES = [("runs", "Runs (cases run alone, whole suites)"), ("cases", "Every case run")]

    project = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    suite = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    case = forms.CharField(required=False, max_length=200, label="Case key")
    status = forms.ChoiceField(required=False)
    branch = forms.CharField(required=False, max_length=200)
    revision = forms.CharField(required=False, max_length=100)
    environment = forms.CharField(required=False, max_length=100)
    trigger = forms.ChoiceField(required=False)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    label = forms.RegexField(
        required=False,
        max_length=300,
        regex=LABEL_FILTER_PATTERN,
        error_messages={"invalid": "Write a label as key:value (key: letters, digits, _ - .)."},
        widget=forms.TextInput(attrs={"placeholder": "key:value"}),
    )
    scope = forms.ChoiceField(required=False, choices=SCOPES)

    def __init__(self, *args, project_ids, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        projects = Project.objects.filter(pk__in=project_ids).order_by("name")
        self.fields["project"].choices = [("", "All my projects")] + [
            (p.pk, p.name) for p in projects
        ]
        suites = TestSuite.objects.filter(project_id__in=project_ids).select_related("project")
        self.fields["suite"].choices = [("", "Any suite")] + [
            (s.pk, f"{s.name} ({s.project.name})" if len(projects) > 1 else s.name)
            for s in suites.order_by("name")
        ]
        self.fields["status"].choices = [("", "Any status"), *ExecutionStatus.choices]
        self.fields["trigger"].choices = [("", "Any trigger"), *Trigger.choices]

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        for name, day in (("since", since), ("until", until)):
            # Day arithmetic and time zones at years 1 and 9999 overflow (a 500); no run is there.
            if day and not 1970 <= day.year <= 9000:
                self.add_error(name, "Give a date between 1970 and 9000.")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return data
