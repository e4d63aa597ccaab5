"""Admin for runner profiles: the commands `command` steps may run (maintainers define them here).

The form runs RunnerProfile.clean() (argv shape, placeholders limited to the allowed parameters,
patterns that compile), so a profile that could not run safely is never saved.
"""

from django import forms
from django.contrib import admin
from django.db import models

from catalog.models import RunnerProfile

_JSON_WIDGET = forms.Textarea(attrs={"rows": 6, "cols": 100, "style": "font-family: monospace"})


@admin.register(RunnerProfile)
class RunnerProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "command", "timeout_seconds", "writes_junit", "updated_at"]
    list_filter = ["project"]
    search_fields = ["name", "description"]
    list_select_related = ["project"]
    readonly_fields = ["created_at", "updated_at"]
    formfield_overrides = {models.JSONField: {"widget": _JSON_WIDGET}}
    fieldsets = [
        (None, {"fields": ["project", "name", "description"]}),
        ("Command", {"fields": ["argv", "allowed_parameters", "working_dir", "env"]}),
        ("Limits and results", {"fields": ["timeout_seconds", "junit_xml"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="argv")
    def command(self, profile: RunnerProfile) -> str:
        return " ".join(profile.argv)[:120] if isinstance(profile.argv, list) else ""

    @admin.display(description="JUnit", boolean=True)
    def writes_junit(self, profile: RunnerProfile) -> bool:
        return bool(profile.junit_xml)
