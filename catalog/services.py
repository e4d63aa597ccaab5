"""Writes to the test catalog: projects, memberships, test cases, test suites.

The API, the admin and the management commands all call these, so a case saved anywhere passes the
same validation: the model's full_clean() (steps, Gherkin, tags via catalog.steps) plus the rules
that need the database (a key or name taken in the project, suite items from another project).
Permission checks are the caller's job (catalog.access); these functions trust their caller.
"""

from collections.abc import Iterable
from typing import TypedDict

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError

from catalog.models import Membership, Project, Role, SuiteItem, TestCase, TestSuite
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
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; one of {', '.join(Role.values)}."})
    with transaction.atomic():
        if role != Role.MAINTAINER:
            membership_check_leaving(project, user=user)
        return Membership.objects.update_or_create(
            project=project, user=user, defaults={"role": role}
        )


def membership_remove(project: Project, *, user) -> None:
    """Take `user` out of `project`. Raises NotFound when they are not a member, Conflict when
    they are its last maintainer."""
    with transaction.atomic():
        membership_check_leaving(project, user=user)
        deleted, _ = Membership.objects.filter(project=project, user=user).delete()
    if not deleted:
        raise NotFound("This user is not a member of the project.")


def membership_check_leaving(project: Project, *, user) -> None:
    """Raise Conflict if `user` is the project's only maintainer: without one, nobody but a
    superuser could manage the project again. Called by the services above and the admin forms;
    locks the maintainers' rows so two concurrent demotions cannot both pass."""
    with transaction.atomic():
        maintainers = list(
            Membership.objects.select_for_update()
            .filter(project=project, role=Role.MAINTAINER)
            .values_list("user_id", flat=True)
        )
    if maintainers == [user.pk]:
        raise Conflict(
            "A project needs at least one maintainer; make someone else maintainer first.",
            code="last_maintainer",
        )


# --- Test cases -------------------------------------------------------------------------------


def case_create(*, project: Project, created_by=None, **fields) -> TestCase:
    """Create a test case. Raises ValidationError (bad steps or Gherkin, key taken, ...)."""
    case = TestCase(project=project, created_by=created_by, **fields)
    with transaction.atomic():
        _save(case)
    return case


def case_update(case: TestCase, **fields) -> TestCase:
    """Change a test case; a case never moves to another project. Raises ValidationError."""
    _refuse_project_change(case, fields)
    _assign(case, fields)
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
    rows = [
        SuiteItem(
            suite=suite,
            case=item["case"],
            order=item.get("order", position),
            skip=item.get("skip", False),
        )
        for position, item in enumerate(items)
    ]
    _check_items(suite, rows)
    with transaction.atomic():
        SuiteItem.objects.filter(suite=suite).delete()
        return SuiteItem.objects.bulk_create(rows)


def suite_delete(suite: TestSuite) -> None:
    """Delete a suite. Raises Conflict while executions of it exist."""
    _delete(suite, "The suite has executions; keep it, or delete those executions first.")


def _check_items(suite: TestSuite, rows: list[SuiteItem]) -> None:
    errors, seen = [], set()
    for position, row in enumerate(rows, start=1):
        if row.case.project_id != suite.project_id:
            errors.append(f"item {position}: case {row.case.key!r} belongs to another project.")
        elif row.case.pk in seen:
            errors.append(f"item {position}: case {row.case.key!r} is already in the suite.")
        seen.add(row.case.pk)
    if errors:
        raise ValidationError({"items": errors})


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
