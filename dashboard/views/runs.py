"""The executions page: every run of the user's projects, newest first, filtered and paged
(dashboard.execution_search)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from core.ids import parse_id
from dashboard.execution_search import execution_search
from dashboard.forms import ExecutionSearchForm
from dashboard.views.common import visible_ids


@login_required
@require_safe
def execution_list(request):
    ids = visible_ids(request.user)
    form = ExecutionSearchForm(request.GET or None, project_ids=ids)
    page = None
    # Criteria that mean nothing list nothing: the form says what is wrong with them.
    if not form.is_bound or form.is_valid():
        criteria = form.cleaned_data if form.is_bound else {}
        page = execution_search(
            ids,
            criteria,
            before=parse_id(request.GET.get("before")),
            after=parse_id(request.GET.get("after")),
        )
    # The filters of the page, without its cursor: the base of the "older" and "newer" links.
    query = request.GET.copy()
    for name in ("before", "after"):
        query.pop(name, None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": any(value for value in query.values()),
        "show_project": len(ids) > 1,
    }
    return render(request, "dashboard/executions.html", context)
