"""Writes to the test catalog: projects, memberships, test cases, test suites.

The API, the admin and the management commands all call these, so a case saved anywhere passes the
same validation: the model's full_clean() (steps, Gherkin, tags via catalog.steps) plus the rules
that need the database (a key or name taken in the project, suite items from another project).
Permission checks are the caller's job (catalog.access); these functions trust their caller.
"""

from collections.abc import Iterable, Mapping
from typing import TypedDict

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError

from catalog.models import CaseOrigin, Membership, Project, Role, SuiteItem, TestCase, TestSuite
from core.errors import Conflict, NotFound


class SuiteItemInput(TypedDict, total=False):
    case: TestCase  # required
    order: int  # defaults to the item's position in the list
    skip: bool


# --- Projects and members -------------------------------------------------------------------


def project_create(*, creator=None, **fields) -> Project:
    """Create a project; `creator` (if given) becomes its maintainer.

    Operators in the admin pass no creator: they are staff, and add the members inline.
    Raises ValidationError (slug taken, bad allowed_hosts).
    """
    project = Project(**fields)
    with transaction.atomic():
        _save(project)
        if creator is not None:
            Membership.objects.create(project=project, user=creator, role=Role.MAINTAINER)
    return project


def project_update(project: Project, **fields) -> Project:
    """Change a project's settings. Raises ValidationError."""
    _assign(project, fields)
    with transaction.atomic():
        _save(project)
    return project


def project_delete(project: Project) -> None:
    """Delete a project with its catalog. Raises Conflict while executions refer to its cases."""
    _delete(project, "The project has executions that refer to its cases or suites.")


def membership_set(project: Project, *, user, role: str) -> tuple[Membership, bool]:
    """Give `user` `role` in `project` (add or change); returns (membership, created).

    Raises ValidationError for an unknown role, Conflict when it would demote the last maintainer.
    """
    _check_role(role)
    with transaction.atomic():
        memberships_check(project, {user.pk: role})
        return Membership.objects.update_or_create(
            project=project, user=user, defaults={"role": role}
        )


def membership_remove(project: Project, *, user) -> None:
    """Take `user` out of `project`. Raises NotFound when they are not a member, Conflict when
    they are its last maintainer."""
    with transaction.atomic():
        memberships_check(project, {user.pk: None})
        deleted, _ = Membership.objects.filter(project=project, user=user).delete()
    if not deleted:
        raise NotFound("This user is not a member of the project.")


def memberships_apply(project: Project, roles: Mapping[int, str | None]) -> None:
    """Make several membership changes as one: `roles` maps a user id to the user's new role,
    or to None to take them out (the admin's member table is saved in one go, and a swap of
    maintainers is fine there although each half alone would leave none for a moment).

    Raises ValidationError for an unknown role, Conflict when the project would be left without
    a maintainer. Removing a user who is not a member does nothing.
    """
    for role in roles.values():
        if role is not None:
            _check_role(role)
    with transaction.atomic():
        memberships_check(project, roles)
        for user_id, role in roles.items():
            if role is None:
                Membership.objects.filter(project=project, user_id=user_id).delete()
            else:
                Membership.objects.update_or_create(
                    project=project, user_id=user_id, defaults={"role": role}
                )


def memberships_check(project: Project, roles: Mapping[int, str | None]) -> None:
    """Raise Conflict if the changes in `roles` (as memberships_apply takes them) would leave a
    project that has a maintainer without one: nobody but a superuser could manage it again.

    The services above call it before they write, the admin's member forms while they validate.
    Locks the maintainers' rows so two concurrent demotions cannot both pass.
    """
    if project.pk is None:  # a project being created has no members to lose
        return
    with transaction.atomic():
        maintainers = set(
            Membership.objects.select_for_update()
            .filter(project=project, role=Role.MAINTAINER)
            .values_list("user_id", flat=True)
        )
    kept = {
        user_id for user_id in maintainers if roles.get(user_id, Role.MAINTAINER) == Role.MAINTAINER
    }
    added = {user_id for user_id, role in roles.items() if role == Role.MAINTAINER}
    if maintainers and not kept | added:
        raise Conflict(
            "A project needs at least one maintainer; make someone else maintainer first.",
            code="last_maintainer",
        )


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; one of {', '.join(Role.values)}."})


# --- Test cases -------------------------------------------------------------------------------


def case_create(*, project: Project, created_by=None, **fields) -> TestCase:
    """Create a test case. Raises ValidationError (bad steps or Gherkin, key taken, ...)."""
    case = TestCase(project=project, created_by=created_by, **fields)
    with transaction.atomic():
        _save(case)
    return case


def case_update(case: TestCase, **fields) -> TestCase:
    """Change a test case; a case never moves to another project. A reported or imported case
    that someone gives steps (or a feature) becomes authored: it can run from then on, and its
    reported results stay its history. Raises ValidationError."""
    _refuse_project_change(case, fields)
    _assign(case, fields)
    if case.origin != CaseOrigin.AUTHORED and (case.steps or case.feature.strip()):
        case.origin = CaseOrigin.AUTHORED
    with transaction.atomic():
        _save(case)
    return case


def case_delete(case: TestCase) -> None:
    """Delete a test case. Raises Conflict while executions of it exist (their history would go)."""
    _delete(case, "The case has executions; deprecate it instead of deleting it.")


# --- Test suites ------------------------------------------------------------------------------


def suite_create(*, project: Project, items: Iterable[SuiteItemInput] = (), **fields) -> TestSuite:
    """Create a suite and its ordered items in one transaction. Raises ValidationError."""
    suite = TestSuite(project=project, **fields)
    with transaction.atomic():
        _save(suite)
        suite_items_replace(suite, items)
    return suite


def suite_update(
    suite: TestSuite, *, items: Iterable[SuiteItemInput] | None = None, **fields
) -> TestSuite:
    """Change a suite; `items`, when given, replace all of its items. Raises ValidationError."""
    _refuse_project_change(suite, fields)
    _assign(suite, fields)
    with transaction.atomic():
        _save(suite)
        if items is not None:
            suite_items_replace(suite, items)
    return suite


def suite_items_replace(suite: TestSuite, items: Iterable[SuiteItemInput]) -> list[SuiteItem]:
    """Make `items` the suite's whole, ordered content. Raises ValidationError when a case
    belongs to another project or appears twice."""
    items = list(items)
    if errors := suite_items_errors(suite, items):
        raise ValidationError(
            {"items": [f"item {position + 1}: {message}" for position, message in errors.items()]}
        )
    # Rows are kept by case and changed in place, so an item keeps its id: an admin page opened
    # before this change (a second tab) still names rows that exist and can save.
    with transaction.atomic():
        existing = {
            row.case_id: row for row in SuiteItem.objects.select_for_update().filter(suite=suite)
        }
        wanted = {item["case"].pk for item in items}
        SuiteItem.objects.filter(suite=suite).exclude(case_id__in=wanted).delete()
        kept, changed, created = [], [], []
        for position, item in enumerate(items):
            order, skip = item.get("order", position), item.get("skip", False)
            row = existing.get(item["case"].pk)
            if row is None:
                row = SuiteItem(suite=suite, case=item["case"], order=order, skip=skip)
                created.append(row)
            elif (row.order, row.skip) != (order, skip):
                row.order, row.skip = order, skip
                changed.append(row)
            kept.append(row)
        if changed:
            SuiteItem.objects.bulk_update(changed, ["order", "skip"])
        SuiteItem.objects.bulk_create(created)
        return kept


def suite_delete(suite: TestSuite) -> None:
    """Delete a suite. Raises Conflict while executions of it exist."""
    _delete(suite, "The suite has executions; keep it, or delete those executions first.")


def suite_items_errors(suite: TestSuite, items: Iterable[SuiteItemInput]) -> dict[int, str]:
    """What suite_items_replace() would refuse in `items`, by position (from 0): a case of
    another project, a case already listed. The admin's inline shows these on the rows."""
    errors, seen = {}, set()
    for position, item in enumerate(items):
        case = item["case"]
        if case.project_id != suite.project_id:
            errors[position] = f"case {case.key!r} belongs to another project."
        elif case.pk in seen:
            errors[position] = f"case {case.key!r} is already in the suite."
        seen.add(case.pk)
    return errors


# --- Shared -----------------------------------------------------------------------------------


def _assign(obj: models.Model, fields: dict) -> None:
    for name, value in fields.items():
        setattr(obj, name, value)


def _refuse_project_change(obj: models.Model, fields: dict) -> None:
    project = fields.pop("project", None)
    if project is not None and project.pk != obj.project_id:
        raise ValidationError({"project": "The project of a case or suite cannot change."})


def catalog_validate(obj: Project | TestCase | TestSuite) -> None:
    """Raise the ValidationError that saving `obj` through these services would raise.

    That is full_clean() plus a taken key/name/slug reported on its own field: Django reports a
    multi-field UniqueConstraint (project, key) as a non-field error, which a client cannot map
    to the field it got wrong. The admin's forms call this, so they show what the API shows.
    """
    unique_field, taken_message = _unique_rule(obj)
    errors: dict = {}
    try:
        obj.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    try:
        obj.validate_constraints(exclude={unique_field})
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if unique_field not in errors and _taken(obj, unique_field):
        # code "unique", as Django's own unique checks: the API answers it with 409.
        errors[unique_field] = [ValidationError(taken_message, code="unique")]
    if errors:
        raise ValidationError(errors)


def unique_field_of(obj: Project | TestCase | TestSuite) -> str:
    """The field catalog_validate() checks for a taken value: slug, key or name."""
    return _unique_rule(obj)[0]


def _unique_rule(obj: models.Model) -> tuple[str, str]:
    """The field that must be free in the object's scope, and the message when it is not."""
    if isinstance(obj, TestCase):
        return "key", f"A test case with key {obj.key!r} already exists in this project."
    if isinstance(obj, TestSuite):
        return "name", f"A test suite named {obj.name!r} already exists in this project."
    return "slug", "A project with this slug already exists."


def _save(obj: Project | TestCase | TestSuite) -> None:
    """catalog_validate() then save. A writer racing us past the check hits the database
    constraint; that IntegrityError becomes the same message as the check's."""
    catalog_validate(obj)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        unique_field, taken_message = _unique_rule(obj)
        if not _taken(obj, unique_field):
            raise
        raise ValidationError(
            {unique_field: [ValidationError(taken_message, code="unique")]}
        ) from None


def _taken(obj: models.Model, field: str) -> bool:
    """Another row of the same scope (the project, or everything for a project) uses the value."""
    scope = {"project_id": obj.project_id} if hasattr(obj, "project_id") else {}
    same = type(obj)._default_manager.filter(**scope, **{field: getattr(obj, field)})
    return same.exclude(pk=obj.pk).exists()


def _delete(obj: models.Model, protected_message: str) -> None:
    try:
        with transaction.atomic():
            obj.delete()
    except ProtectedError:
        raise Conflict(protected_message, code="in_use") from None
