"""What every dashboard view shares: finding objects the user may see, and service errors.

Strangers get 404 for anything of a project they are not in (they cannot tell it exists); members
whose role is too low for an action get 403.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import NoReverseMatch, reverse
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from catalog import access
from catalog.models import Project, TestCase
from core import errors
from core.errors import DomainError
from executions.models import Execution


def require_role(user, project_id: int, needed: str) -> None:
    """access.require(), answered with the site's 404 and 403 pages."""
    try:
        access.require(user, project_id, needed, hidden="No such page.")
    except errors.NotFound as exc:
        raise Http404(exc.message) from None
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.message) from None


def project_for(user, project_id: int, needed: str = access.READ) -> Project:
    project = get_object_or_404(Project, pk=project_id)
    require_role(user, project.pk, needed)
    return project


def execution_for(user, execution_id: int, needed: str = access.READ) -> Execution:
    execution = get_object_or_404(
        Execution.objects.select_related("project", "test_case", "test_suite", "parent"),
        pk=execution_id,
    )
    require_role(user, execution.project_id, needed)
    return execution


def case_for(user, case_id: int, needed: str = access.READ) -> TestCase:
    case = get_object_or_404(TestCase.objects.select_related("project"), pk=case_id)
    require_role(user, case.project_id, needed)
    return case


def visible_ids(user) -> list[int]:
    """Ids of the projects the user may read, as a list (pages use it in several queries)."""
    return list(
        Project.objects.filter(pk__in=access.visible_project_ids(user)).values_list("pk", flat=True)
    )


def admin_url(user, obj) -> str:
    """The admin change page of an object, for staff (operators act there); "" for others."""
    if not user.is_staff:
        return ""
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:  # the model is not registered with the admin (yet)
        return ""


def run_service(request, action, *, success: str, back: str):
    """Call a service for a form POST; its refusal becomes a message on the page it came from
    rather than an error page (a double click on "cancel" is not a bug)."""
    try:
        result = action()
    except DomainError as exc:
        messages.error(request, exc.message)
        return None, redirect(back)
    except TransitionNotAllowed:
        messages.error(request, "That is not possible in the execution's current state.")
        return None, redirect(back)
    except ConcurrentTransition:
        messages.error(request, "Someone else changed it at the same moment; try again.")
        return None, redirect(back)
    if success:
        messages.success(request, success)
    return result, None
