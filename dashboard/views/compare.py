"""Compare two runs (results.compare): buckets as sections, newly failing first, each row linking
to its case and to the executions that ran it. The run pages link here with their previous
comparable run as the base (dashboard.views.executions)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from core import errors
from results.compare import BUCKET_TITLES, BUCKETS, runs_compare
from results.errors import InvalidQuery
from results.run_refs import runs_for_compare

ROWS_PER_SECTION = 100


@login_required
@require_safe
def compare_page(request):
    head_ref = request.GET.get("head", "")
    base_ref = request.GET.get("base", "") or "previous"
    try:
        base, head = runs_for_compare(base_ref, head_ref, request.user)
        comparison = runs_compare(base, head)
    except errors.NotFound:
        raise Http404("No such run.") from None
    except InvalidQuery as exc:
        return render(request, "dashboard/compare.html", {"problem": exc.message}, status=400)
    offset = _offset(request.GET.get("offset", "0"))
    only = request.GET.get("bucket")
    sections = []
    for name in BUCKETS:
        if only in BUCKETS and name != only:
            continue
        rows = comparison.buckets[name]
        start = offset if name == only else 0
        more = {
            "base": base_ref,
            "head": head_ref,
            "bucket": name,
            "offset": start + ROWS_PER_SECTION,
        }
        sections.append(
            {
                "name": name,
                "title": BUCKET_TITLES[name],
                "count": len(rows),
                "rows": rows[start : start + ROWS_PER_SECTION],
                "more_url": f"?{urlencode(more)}" if start + ROWS_PER_SECTION < len(rows) else "",
            }
        )
    context = {"comparison": comparison, "sections": sections, "only": only in BUCKETS}
    return render(request, "dashboard/compare.html", context)


def _offset(raw: str) -> int:
    return min(int(raw), 10_000_000) if raw.isdigit() and len(raw) < 10 else 0
