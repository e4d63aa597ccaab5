"""A project's analytics page: pass rate and duration per day, the slowest, most failing and
flaky tests, and the results per branch and environment, over a date range, optionally for one
branch or environment. The figures are results' analytics (results.selectors), the same the API's
/analytics/ endpoints answer; the charts are drawn on the server (dashboard.templatetags.charts).
"""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboard.views.common import project_for
from results import selectors as results
from results.errors import InvalidQuery

RANGES = (7, 30, 90)
# The query parameters the page passes on to results.selectors.ResultFilter.
FILTERS = ("since", "until", "branch", "environment")


@login_required
@require_safe
def project_analytics(request, project_id: int):
    project = project_for(request.user, project_id)
    params = {name: request.GET[name] for name in FILTERS if request.GET.get(name)}
    refused = ""
    try:
        flt = results.ResultFilter.parse(project.pk, params)
    except InvalidQuery as exc:
        refused = exc.message
        flt = results.ResultFilter.parse(project.pk, {})
    days = results.trends(flt)
    branches = results.breakdown(flt, "branch")
    environments = results.breakdown(flt, "environment")
    context = {
        "project": project,
        "flt": flt,
        "refused": refused,
        "ranges": _range_links(flt),
        "stats": results.statistics(flt),
        "days": days,
        "slowest": results.slowest_cases(flt),
        "failing": results.most_failing_cases(flt),
        "flaky": list(results.flaky_cases(project.pk)[: results.RANKED]),
        "branches": branches,
        "environments": environments,
        "breakdowns": [
            ("Branch", branches, "branch"),
            ("Environment", environments, "environment"),
        ],
    }
    return render(request, "dashboard/analytics.html", context)


def _range_links(flt) -> list[tuple[int, str, bool]]:
    """(days, query, chosen) of the range buttons: the last n days up to today, keeping the
    branch and environment."""
    today = timezone.localdate()
    links = []
    for n in RANGES:
        query = {"since": today - timedelta(days=n - 1), "until": today}
        query.update({k: getattr(flt, k) for k in ("branch", "environment") if getattr(flt, k)})
        chosen = flt.until == today and (today - flt.since).days + 1 == n
        links.append((n, urlencode(query), chosen))
    return links
