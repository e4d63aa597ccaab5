"""Admin of triage: operators triage groups and single results (the form's save calls the same
service as the API and the dashboard), edit categories and rules through their services; the
hits, fixes and triage events are records, read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from triage import services
from triage.errors import TriageError
from triage.models import Category, FailureGroup, GroupHit, TriageEvent, TriageRule

TRIAGED = ("category", "comment", "issue_url")


class _TriageForm(forms.ModelForm):
    """Checks the triage with the service's own rules before the save calls it."""

    # A plain text field: the service checks the link (http or https only), as for the API.
    issue_url = forms.CharField(required=False, max_length=500)

    def clean(self):
        data = super().clean()
        try:
            data["issue_url"] = services.checked_url(data.get("issue_url", ""))
        except TriageError as exc:
            raise ValidationError(exc.message) from exc
        category = data.get("category")
        if (
            category is not None
            and self.instance.pk
            and category.project_id != self.instance.project_id
        ):
            raise ValidationError("That category belongs to another project.")
        return data


class _TriageAdmin(admin.ModelAdmin):
    form = _TriageForm

    def has_add_permission(self, request) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in TRIAGED]

    def save_model(self, request, obj, form, change):
        given = {name: form.cleaned_data[name] for name in TRIAGED if name in form.changed_data}
        try:
            services.triage_set(obj, actor=request.user, **given)
        except TriageError as exc:
            messages.error(request, exc.message)


@admin.register(FailureGroup)
class FailureGroupAdmin(_TriageAdmin):
    list_display = [
        "id",
        "project",
        "error_type",
        "last_state",
        "category",
        "occurrences",
        "cases_hit",
        "last_seen_at",
    ]
    list_filter = ["last_state", "project"]
    search_fields = ["signature", "error_type", "message"]
    list_select_related = ["category", "project"]


@admin.register(GroupHit)
class GroupHitAdmin(_TriageAdmin):
    list_display = ["id", "group", "case", "run", "branch", "state", "category", "created_at"]
    list_filter = ["state"]
    search_fields = ["run", "case__key"]
    list_select_related = ["case", "category"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "is_default", "position"]
    list_filter = ["project"]
    readonly_fields = ["is_default"]

    def save_model(self, request, obj, form, change):
        try:
            services.category_save(
                project_id=obj.project_id,
                name=obj.name,
                category=obj if change else None,
                position=obj.position,
            )
        except TriageError as exc:
            messages.error(request, exc.message)

    def delete_model(self, request, obj):
        try:
            services.category_delete(obj)
        except TriageError as exc:
            messages.error(request, exc.message)

    def has_delete_permission(self, request, obj=None) -> bool:
        # the bulk action would bypass the service (and the default's protection)
        return (
            obj is not None and not obj.is_default and super().has_delete_permission(request, obj)
        )


class _RuleForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        try:
            data["pattern"] = services.checked_pattern(data.get("pattern"))
        except TriageError as exc:
            raise ValidationError(exc.message) from exc
        project, category = data.get("project"), data.get("category")
        if project and category and category.project_id != project.pk:
            raise ValidationError("That category belongs to another project.")
        return data


@admin.register(TriageRule)
class TriageRuleAdmin(admin.ModelAdmin):
    form = _RuleForm
    list_display = ["id", "project", "field", "pattern", "category", "position", "enabled"]
    list_filter = ["project", "enabled"]

    def save_model(self, request, obj, form, change):
        try:
            services.rule_save(
                project_id=obj.project_id,
                category=obj.category,
                field=obj.field,
                pattern=obj.pattern,
                position=obj.position,
                enabled=obj.enabled,
                rule=obj if change else None,
            )
        except TriageError as exc:
            messages.error(request, exc.message)


@admin.register(TriageEvent)
class TriageEventAdmin(admin.ModelAdmin):
    list_display = ["id", "group", "hit", "actor_label", "changes", "created_at"]
    list_filter = ["project"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
