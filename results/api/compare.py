"""GET /api/v1/compare/?head=<ref>&base=<ref>: two runs of one project compared, bucket by
bucket (results.compare). A CI job after its run asks `?head=execution:<id>` (base defaults to
the previous comparable run) and fails its build on `something_newly_fails`."""

from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from results.compare import BUCKETS, Comparison, runs_compare
from results.run_refs import runs_for_compare
from results.serializers import CompareQuerySerializer, ComparisonSerializer


class CompareView(APIView):
    """Readers of the project may compare; a run of a project you are not in is a 404."""

    @extend_schema(
        summary="Compare two runs: newly failing, still failing, fixed, new, removed, slower",
        description="A ref is `execution:<id>` (suite, case or reported run), `import:<id>` or, "
        "for the base, `previous` (the default). Each bucket answers `limit` rows from `offset` "
        "and a `next` link; `bucket=` pages through one. 400: a bad ref, runs of two "
        "projects; 404: a run that does not exist or that you may not see.",
        parameters=[CompareQuerySerializer],
        responses={200: ComparisonSerializer},
    )
    def get(self, request):
        given = CompareQuerySerializer(data=request.query_params)
        given.is_valid(raise_exception=True)
        query = given.validated_data
        base, head = runs_for_compare(query["base"], query["head"], request.user)
        comparison = runs_compare(
            base, head, ratio=query.get("ratio"), min_delta_ms=query.get("min_delta_ms")
        )
        return Response(ComparisonSerializer(_body(request, comparison, query)).data)


def _body(request, comparison: Comparison, query: dict) -> dict:
    offset, limit = query["offset"], query["limit"]
    shown = [query["bucket"]] if query.get("bucket") else list(BUCKETS)
    buckets = {}
    for name in shown:
        rows = comparison.buckets[name]
        more = offset + limit < len(rows)
        after = {**request.query_params.dict(), "bucket": name, "offset": offset + limit}
        page = f"?{urlencode(after, safe=':')}"
        buckets[name] = {
            "count": len(rows),
            "offset": offset,
            "results": rows[offset : offset + limit],
            "next": request.build_absolute_uri(page) if more else None,
        }
    refs = {
        "base": comparison.base.ref if comparison.base else "previous",
        "head": comparison.head.ref,
    }
    return {
        "base": comparison.base,
        "head": comparison.head,
        "ratio": comparison.ratio,
        "min_delta_ms": comparison.min_delta_ms,
        "counts": comparison.counts,
        "something_newly_fails": comparison.something_newly_fails,
        "dashboard_url": request.build_absolute_uri(
            f"{reverse('dashboard:compare')}?{urlencode(refs, safe=':')}"
        ),
        "buckets": buckets,
    }
