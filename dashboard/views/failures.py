"""The Failures page of a project: its failure groups, most recently seen first, filtered by
state and category, triaged in place. Groups and triage belong to the triage app; this view
reads its selector and calls its one triage service (triage.services.triage_set)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from catalog import access
from catalog.models import Project
from dashboard.forms import TriageForm
from dashboard.views.common import project_for, require_role, run_service, visible_ids
from triage.models import Category, FailureGroup, GroupState
from triage.selectors import GroupFilter, groups_for_project
from triage.services import categories_ensure, triage_set

PAGE_SIZE = 25


@login_required
@require_safe
def failures_home(request):
    """The nav's "Failures" and the page's project chooser: the chosen project's page, else the
    first of the user's projects."""
    chosen = request.GET.get("project", "")
    if chosen.isdigit() and len(chosen) < 12:
        return redirect("dashboard:failures", project_id=project_for(request.user, int(chosen)).pk)
    first = Project.objects.filter(pk__in=visible_ids(request.user)).order_by("name").first()
    if first is None:
        return render(request, "dashboard/failures.html", {"groups": [], "projects": []})
    return redirect("dashboard:failures", project_id=first.pk)


@login_required
@require_safe
def failures_page(request, project_id: int):
    project = project_for(request.user, project_id)
    categories_ensure(project.pk)
    categories = list(Category.objects.filter(project=project))
    state = request.GET.get("state", "")
    state = state if state in GroupState.values else ""
    chosen = request.GET.get("category", "")
    category = (
        int(chosen) if chosen.isdigit() and any(c.pk == int(chosen) for c in categories) else None
    )
    groups = groups_for_project(project.pk, GroupFilter(state=state, category=category))
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "project": project,
        "projects": Project.objects.filter(pk__in=visible_ids(request.user)).order_by("name"),
        "page": page,
        "groups": page.object_list,
        "states": GroupState.choices,
        "state": state,
        "categories": categories,
        "category": category,
        "can_triage": access.has_role(request.user, project.pk, access.RUN),
        "here": request.get_full_path(),
    }
    return render(request, "dashboard/failures.html", context)


@login_required
@require_POST
def failure_triage(request, group_id: int):
    group = get_object_or_404(FailureGroup.objects.select_related("project"), pk=group_id)
    require_role(request.user, group.project_id, access.RUN)
    back = reverse("dashboard:failures", args=[group.project_id])
    categories = list(Category.objects.filter(project_id=group.project_id))
    form = TriageForm(request.POST, categories=categories)
    if not form.is_valid():
        return redirect(back)
    wanted = form.cleaned_data["next"]
    if wanted and url_has_allowed_host_and_scheme(
        wanted, {request.get_host()}, require_https=False
    ):
        back = wanted
    # The fields the form sent change, as the API's triage does: a post without a comment keeps
    # the comment (an outsider's partial post wiped it).
    given = {
        name: form.cleaned_data[name] for name in ("comment", "issue_url") if name in request.POST
    }
    if form.cleaned_data["category"] is not None:
        given["category"] = next(c for c in categories if c.pk == form.cleaned_data["category"])
    _, refused = run_service(
        request,
        lambda: triage_set(group, actor=request.user, **given),
        success="Triage saved.",
        back=back,
    )
    return refused or redirect(f"{back}#group-{group.pk}")
