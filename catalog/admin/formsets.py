"""Inline formsets whose rows the catalog services write: members of a project, items of a suite.

Django's own formset would save each row by itself, past the services' rules (a project keeps a
maintainer, a case once per suite and only from the suite's project). Here clean() asks the
service what it would refuse and shows it on the page; save() hands all rows to the service in one
call, so the admin writes what the API would write, or nothing.
"""

from functools import cached_property

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.text import capfirst

from catalog import services as catalog
from catalog.services import SuiteItemInput
from core.errors import DomainError


class ServiceInlineFormSet(BaseInlineFormSet):
    def rows(self) -> list[tuple]:
        """(form, deleted) for every row loaded from the database and every new row the operator
        filled in; an untouched blank row, or a new one ticked for deletion, is no row."""
        rows = []
        for index, form in enumerate(self.forms):
            new = index >= self.initial_form_count()
            deleted = self.can_delete and self._should_delete_form(form)
            if new and (deleted or not form.has_changed()):
                continue
            rows.append((form, deleted))
        return rows

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return  # some row is unreadable: the service has nothing whole to judge yet
        self.check()

    def save(self, commit: bool = True) -> list:
        if not commit:
            raise ValueError("The catalog services write these rows; there is no unsaved state.")
        self.write()
        # What the admin's change message and history read (ModelAdmin.construct_change_message).
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        for form, deleted in self.rows():
            if deleted:
                self.deleted_objects.append(form.instance)
            elif form in self.initial_forms:
                if form.has_changed():
                    self.changed_objects.append((form.instance, form.changed_data))
            else:
                self.new_objects.append(form.instance)
        return self.new_objects + [obj for obj, _ in self.changed_objects]

    def check(self) -> None:
        """Raise or add the errors the service would refuse the rows with."""
        raise NotImplementedError

    def write(self) -> None:
        """Have the service write the rows."""
        raise NotImplementedError


class MembershipInlineFormSet(ServiceInlineFormSet):
    """A project's members: catalog.services.memberships_check / memberships_apply judge the
    whole table at once, so swapping two maintainers' roles in one save is fine while leaving the
    project without any is refused."""

    def roles(self) -> dict[int, str | None]:
        """User id -> new role, or None for a member taken out (as memberships_apply takes it)."""
        roles: dict[int, str | None] = {}
        for form, deleted in self.rows():
            if not deleted and not form.has_changed():
                continue
            before = form.initial.get("user") if form in self.initial_forms else None
            after = None if deleted else form.cleaned_data["user"].pk
            if before is not None and before != after:
                # Moving a row to another user takes the first one out, unless a row of its own
                # gives them a role.
                roles.setdefault(before, None)
            if after is not None:
                roles[after] = form.cleaned_data["role"]
        return roles

    def check(self) -> None:
        try:
            catalog.memberships_check(self.instance, self.roles())
        except DomainError as exc:
            raise ValidationError(exc.message, code=exc.code) from None

    def write(self) -> None:
        catalog.memberships_apply(self.instance, self.roles())


class SuiteItemForm(forms.ModelForm):
    def _get_validation_exclusions(self):
        # "A case once per suite" is the service's rule on the whole list (the formset's check):
        # a row checked alone against the saved items would refuse moving a case from a
        # deleted row to a new one, which the replacing save allows.
        return super()._get_validation_exclusions() | {"case"}


class SuiteItemInlineFormSet(ServiceInlineFormSet):
    """A suite's items: the rows that stay are the suite's whole content, saved with
    catalog.services.suite_items_replace (what the API's `items` does)."""

    def validate_unique(self) -> None:
        """Duplicates are the service's to report (check() below), with the case they name."""

    def kept(self) -> list:
        return [form for form, deleted in self.rows() if not deleted]

    @cached_property
    def unseen(self) -> list[SuiteItemInput]:
        """Items saved since this page was opened (another tab, the API): the page does not
        show them, so it must not drop them either. Read once per save, so the rows checked
        are the rows written."""
        if self.instance.pk is None:
            return []
        shown = [form.instance.pk for form in self.initial_forms if form.instance.pk]
        rows = self.instance.items.exclude(pk__in=shown).select_related("case")
        return [{"case": row.case, "order": row.order, "skip": row.skip} for row in rows]

    def items(self) -> list[SuiteItemInput]:
        """The suite's content after this save: what it holds now, with this page's changes."""
        return self.unseen + [self._item(form) for form in self.kept()]

    def _item(self, form) -> SuiteItemInput:
        if form in self.initial_forms and not form.has_changed():
            # A row as it is saved. An operator who may only view suite items gets rows whose
            # cleaned_data is the admin's stand-in (the initial ids, not the case itself).
            item = form.instance
            return {"case": item.case, "order": item.order, "skip": item.skip}
        return {
            "case": form.cleaned_data["case"],
            "order": form.cleaned_data["order"],
            "skip": form.cleaned_data.get("skip", False),
        }

    def check(self) -> None:
        # On the add page the suite has no id yet, but its project is set: what the rule needs.
        kept, unseen = self.kept(), len(self.unseen)
        for position, message in catalog.suite_items_errors(self.instance, self.items()).items():
            # The saved items come first, so a clash is reported on this page's row.
            kept[position - unseen].add_error("case", capfirst(message))

    def write(self) -> None:
        if self.has_changed():
            catalog.suite_items_replace(self.instance, self.items())
