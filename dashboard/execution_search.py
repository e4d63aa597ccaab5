"""The executions page's read: every run of the user's projects, newest first, filtered, a page
at a time, at a cost that does not grow with the table.

- Filters go through the API's filterset (executions.filters.ExecutionFilter), so the page and
  `GET /api/v1/executions/` mean the same thing by `status`, `branch` or `label`.
- Pages are keyset pages on (created_at, id), the order of the index exec_newest: the page after
  run #N reads the rows older than N straight from the index, however deep it is (OFFSET read and
  threw away every row before the page: page 2,000 of 100,000 runs read them all).
- The number of matches is counted up to COUNT_CAP only, as the API's lists do
  (core.pagination.CappedCountPagination): "1,000+" is as useful to a tester as the exact figure.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from dashboard.selectors import with_child_statuses
from executions.filters import ExecutionFilter
from executions.models import Execution

PAGE_SIZE = 50
COUNT_CAP = 1000
# The form's fields that the API's filterset takes under another name (the rest keep theirs).
FILTERSET_NAMES = {"suite": "test_suite"}
PASSED_ON = ("project", "suite", "status", "branch", "revision", "environment", "trigger", "label")


@dataclass
class SearchPage:
    runs: list[Execution]
    count: int  # matches, counted up to COUNT_CAP
    capped: bool  # more than COUNT_CAP match
    older: int | None  # the id to ask `before=` for the next page, None on the last one
    newer: int | None  # the id to ask `after=` for the page before, None on the first one


def execution_search(
    project_ids, criteria: dict, *, before: int | None = None, after: int | None = None
) -> SearchPage:
    """A page of the runs matching `criteria` (ExecutionSearchForm's cleaned data) in these
    projects: the newest, or those just older than run `before`, or just newer than run `after`
    (a cursor that is not a visible run starts from the newest)."""
    matching = _matching(project_ids, criteria)
    cursor_id = before or after
    cursor = (
        Execution.objects.filter(pk=cursor_id, project_id__in=project_ids)
        .values_list("created_at", "id")
        .first()
        if cursor_id
        else None
    )
    if cursor and after:
        rows = _newer_than(matching, cursor)
        has_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        has_older = True
    else:
        page = matching if cursor is None else _older_than(matching, cursor)
        rows = list(page.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
        has_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        has_newer = cursor is not None
    count = matching.order_by()[: COUNT_CAP + 1].count()
    return SearchPage(
        runs=with_child_statuses(rows),
        count=min(count, COUNT_CAP),
        capped=count > COUNT_CAP,
        older=rows[-1].pk if rows and has_older else None,
        newer=rows[0].pk if rows and has_newer else None,
    )


def _matching(project_ids, criteria: dict) -> QuerySet[Execution]:
    runs = Execution.objects.filter(project_id__in=project_ids).select_related(
        "project", "test_case", "test_suite"
    )
    data = QueryDict(mutable=True)  # as a request's: the status filter takes a list
    for name in PASSED_ON:
        if criteria.get(name) not in (None, ""):
            data[FILTERSET_NAMES.get(name, name)] = str(criteria[name])
    if criteria.get("case"):
        # A case's runs inside suite runs are its runs too.
        runs = runs.filter(test_case__key=criteria["case"])
    elif criteria.get("scope") != "cases":
        data["top_level"] = "true"
    if data:
        filterset = ExecutionFilter(data, queryset=runs)
        # The form has checked every value the filterset checks, so it is valid; a mismatch
        # between the two would show as an empty page, never as someone else's runs.
        runs = filterset.qs if filterset.is_valid() else runs.none()
    return runs.filter(**_date_range(criteria.get("since"), criteria.get("until")))


def _date_range(since, until) -> dict:
    """Created on a day from `since` to `until` (inclusive, the server's time zone), as a range
    of moments: a date of each row could not use the index."""
    window = {}
    if since:
        window["created_at__gte"] = timezone.make_aware(datetime.combine(since, time.min))
    if until:
        end = datetime.combine(until + timedelta(days=1), time.min)
        window["created_at__lt"] = timezone.make_aware(end)
    return window


def _older_than(runs: QuerySet, cursor: tuple) -> QuerySet:
    created, pk = cursor
    # `created_at <= x` bounds the index scan; the OR only sorts out runs of the same instant.
    return runs.filter(created_at__lte=created).filter(Q(created_at__lt=created) | Q(id__lt=pk))


def _newer_than(runs: QuerySet, cursor: tuple) -> list[Execution]:
    created, pk = cursor
    newer = runs.filter(created_at__gte=created).filter(Q(created_at__gt=created) | Q(id__gt=pk))
    return list(newer.order_by("created_at", "id")[: PAGE_SIZE + 1])
