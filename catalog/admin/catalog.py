"""Admin for the catalog: projects and members, test cases, test suites.

Forms run the model's full_clean() (steps, Gherkin, a taken key), so the admin rejects what the
API rejects; every write, inline rows and bulk deletes included, goes through catalog.services,
the API's write path (the inlines' formsets: catalog.admin.formsets).
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.urls import reverse

from catalog import services as catalog
from catalog.admin.formsets import MembershipInlineFormSet, SuiteItemForm, SuiteItemInlineFormSet
from catalog.models import Membership, Project, SuiteItem, TestCase, TestSuite
from core.errors import DomainError


class PrettyJSONField(forms.JSONField):
    """Shows JSON indented, so that a case's steps read one key per line."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


_JSON_WIDGET = forms.Textarea(attrs={"rows": 12, "cols": 100, "style": "font-family: monospace"})
_PRETTY_JSON = {models.JSONField: {"form_class": PrettyJSONField, "widget": _JSON_WIDGET}}


class CatalogForm(forms.ModelForm):
    """Validates as the services do (catalog_validate): a taken key, name or slug is reported on
    its field on the add and the change page alike. Django's own check would put it at the top
    of the add page, and skip it on the change page, where `project` is read-only."""

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        exclude.add(catalog.unique_field_of(self.instance))  # checked in validate_unique()
        return exclude

    def validate_unique(self) -> None:
        try:
            catalog.catalog_validate(self.instance)
        except ValidationError as exc:
            if errors := self._not_yet_reported(exc):
                self._update_errors(ValidationError(errors))

    def _not_yet_reported(self, exc: ValidationError) -> dict[str, list]:
        """The errors of fields the form has not flagged yet; errors of fields the form does not
        show (read-only ones) go to the top of the form."""
        errors: dict[str, list] = {}
        for field, field_errors in exc.message_dict.items():
            target = field if field in self.fields else NON_FIELD_ERRORS
            if target not in self._errors:
                errors.setdefault(target, []).extend(field_errors)
        return errors


def _adopt(obj: models.Model, saved: models.Model) -> None:
    """The admin goes on with its own `obj` after save_model (inlines, log entry, redirect), so
    the object a create service saved hands it its state, pk included."""
    obj.__dict__.update(saved.__dict__)


def _count_of(model: type[models.Model]) -> Coalesce:
    """A per-project row count as a subquery: joining three related tables in one Count would
    multiply cases by suites by members before counting."""
    rows = model.objects.filter(project=OuterRef("pk")).order_by().values("project")
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")), 0)


def _form_fields(form, *, changed_only: bool) -> dict:
    """The model fields the form edits, as keyword arguments for a service."""
    names = form.changed_data if changed_only else form.cleaned_data.keys()
    return {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}


def _refusal(exc: DomainError | ValidationError) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    return " ".join(exc.messages)


class ServiceAdmin(admin.ModelAdmin):
    """Forms and formsets show what a service would refuse before anything is written; a service
    can still refuse at write time (another operator changed the same rows in between). Then
    the page's transaction is rolled back and the refusal shown as a message, never as a 500."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DomainError, ValidationError) as exc:
            self.message_user(request, _refusal(exc), messages.ERROR)
            return redirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except (DomainError, ValidationError) as exc:
            self.message_user(request, _refusal(exc), messages.ERROR)
            info = (self.opts.app_label, self.opts.model_name)
            return redirect(reverse("admin:{}_{}_change".format(*info), args=[object_id]))

    def changelist_view(self, request, extra_context=None):
        # The bulk delete action ends in delete_queryset().
        try:
            return super().changelist_view(request, extra_context)
        except (DomainError, ValidationError) as exc:
            self.message_user(request, _refusal(exc), messages.ERROR)
            return redirect(request.get_full_path())

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


# --- Projects and members ---------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipInlineFormSet
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(ServiceAdmin):
    form = CatalogForm
    list_display = ["name", "slug", "member_count", "case_count", "suite_count", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]
    formfield_overrides = _PRETTY_JSON
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "created_at"]}),
        (
            "Runs",
            {"fields": ["allowed_hosts", "max_concurrency", "retention_days", "failure_alerts"]},
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_count=_count_of(Membership),
                case_count=_count_of(TestCase),
                suite_count=_count_of(TestSuite),
            )
        )

    @admin.display(description="members", ordering="member_count")
    def member_count(self, project: Project) -> int:
        return project.member_count

    @admin.display(description="cases", ordering="case_count")
    def case_count(self, project: Project) -> int:
        return project.case_count

    @admin.display(description="suites", ordering="suite_count")
    def suite_count(self, project: Project) -> int:
        return project.suite_count

    def save_model(self, request, obj, form, change):
        if change:
            catalog.project_update(obj, **_form_fields(form, changed_only=True))
        else:
            # No creator: the operator is staff, and adds the project's members inline.
            _adopt(obj, catalog.project_create(**_form_fields(form, changed_only=False)))

    def delete_model(self, request, obj):
        catalog.project_delete(obj)


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["project", "user", "role"]

    def clean(self):
        cleaned = super().clean()
        membership = self.instance
        if membership.pk and cleaned.get("role"):
            roles = {membership.user_id: cleaned["role"]}
            try:
                catalog.memberships_check(membership.project, roles)
            except DomainError as exc:
                raise ValidationError(exc.message) from None
        return cleaned


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    form = MembershipForm
    list_display = ["user", "project", "role"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "user__email", "project__name"]
    list_select_related = ["user", "project"]
    autocomplete_fields = ["user", "project"]
    actions = None  # a bulk delete would skip the last-maintainer rule

    def get_readonly_fields(self, request, obj=None):
        # Moving a membership to another user or project is a removal plus an addition.
        return ["project", "user"] if obj else []

    def save_model(self, request, obj, form, change):
        membership, _ = catalog.membership_set(obj.project, user=obj.user, role=obj.role)
        _adopt(obj, membership)

    def delete_view(self, request, object_id, extra_context=None):
        membership = self.get_object(request, unquote(object_id))
        if membership is not None and _is_last_maintainer(membership):
            self.message_user(
                request,
                "This is the project's last maintainer; make someone else maintainer first.",
                messages.ERROR,
            )
            return redirect("admin:catalog_membership_change", membership.pk)
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        catalog.membership_remove(obj.project, user=obj.user)


def _is_last_maintainer(membership: Membership) -> bool:
    try:
        catalog.memberships_check(membership.project, {membership.user_id: None})
    except DomainError:
        return True
    return False


# --- Test cases -------------------------------------------------------------------------------


@admin.register(TestCase)
class TestCaseAdmin(ServiceAdmin):
    form = CatalogForm
    list_display = ["key", "name", "project", "type", "origin", "status", "priority", "quarantined"]
    list_filter = ["type", "origin", "status", "priority", "quarantined", "project"]
    search_fields = ["key", "name", "tags"]
    list_select_related = ["project"]
    readonly_fields = ["origin", "created_by", "created_at", "updated_at"]
    formfield_overrides = _PRETTY_JSON
    fieldsets = [
        (None, {"fields": ["project", "key", "name", "type", "status", "priority", "tags"]}),
        ("Content", {"fields": ["description", "preconditions", "steps", "feature"]}),
        ("Runs", {"fields": ["quarantined"]}),
        ("History", {"fields": ["origin", "created_by", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # A case's results and suites belong to its project: it never moves.
        return [*self.readonly_fields, "project"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            catalog.case_update(obj, **_form_fields(form, changed_only=True))
        else:
            fields = _form_fields(form, changed_only=False)
            _adopt(obj, catalog.case_create(created_by=request.user, **fields))

    def delete_model(self, request, obj):
        catalog.case_delete(obj)


# --- Test suites ------------------------------------------------------------------------------


class SuiteItemInline(admin.TabularInline):
    model = SuiteItem
    form = SuiteItemForm
    formset = SuiteItemInlineFormSet
    extra = 1
    autocomplete_fields = ["case"]
    ordering = ["order", "id"]


@admin.register(TestSuite)
class TestSuiteAdmin(ServiceAdmin):
    form = CatalogForm
    list_display = ["name", "project", "item_count", "max_parallel", "fail_fast"]
    list_filter = ["fail_fast", "project"]
    search_fields = ["name", "tags"]
    list_select_related = ["project"]
    readonly_fields = ["created_at", "updated_at"]
    formfield_overrides = _PRETTY_JSON
    inlines = [SuiteItemInline]
    fieldsets = [
        (None, {"fields": ["project", "name", "description", "tags"]}),
        ("Runs", {"fields": ["max_parallel", "fail_fast"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description="items", ordering="item_count")
    def item_count(self, suite: TestSuite) -> int:
        return suite.item_count

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "project"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # Items are the inline's rows, saved by its formset after this (suite_items_replace).
        if change:
            catalog.suite_update(obj, **_form_fields(form, changed_only=True))
        else:
            _adopt(obj, catalog.suite_create(**_form_fields(form, changed_only=False)))
