"""Reads of results: analytics over CaseResult, per-case health, what a user may see.

Analytics are computed in the database, grouped by day: on PostgreSQL one index-only scan of
caseresult_project_time (the statistics' columns are INCLUDEd in it) with PERCENTILE_CONT for
p50 / p95; SQLite (development) has no percentile aggregate, so there the durations of the range
are sorted in Python.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Aggregate, Avg, Count, FloatField, Max, Q, QuerySet, TextField
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from catalog import access
from catalog.models import TestCase
from executions.models import TERMINAL, Execution
from results.errors import InvalidQuery
from results.models import CaseOutcome, CaseResult, CaseStats, ImportBatch

Outcome = CaseOutcome
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
LAST_DAY = date.max - timedelta(days=MAX_RANGE_DAYS + 1)  # room for the arithmetic below
# and before it: `until=0001-01-02` went a year back from it past date.min (a 500)
FIRST_DAY = date.min + timedelta(days=MAX_RANGE_DAYS + 1)
LABEL_PATTERN = r"^[^:]+:.*$"


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY x)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


# --- visibility ----------------------------------------------------------------------------------


def executions_for(user) -> QuerySet[Execution]:
    return Execution.objects.filter(project_id__in=access.visible_project_ids(user))


def import_batches_for(user) -> QuerySet[ImportBatch]:
    return ImportBatch.objects.filter(project_id__in=access.visible_project_ids(user))


def cases_for(user) -> QuerySet[TestCase]:
    return TestCase.objects.filter(project_id__in=access.visible_project_ids(user))


# --- analytics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultFilter:
    """What an analytics query is about: a project, a date range (inclusive), optional labels."""

    project_id: int
    since: date
    until: date
    branch: str = ""
    environment: str = ""
    revision: str = ""
    label: tuple[str, str] | None = None

    @classmethod
    def parse(cls, project_id: int, params) -> "ResultFilter":
        # The range is kept in bounds rather than refused: at most MAX_RANGE_DAYS ending at
        # `until` (the answer says which days it covers); since > until is an empty range.
        until = _date(params.get("until"), "until") or timezone.localdate()
        until = min(max(until, FIRST_DAY), LAST_DAY)
        first = until - timedelta(days=MAX_RANGE_DAYS - 1)
        default = until - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        since = max(_date(params.get("since"), "since") or default, first)
        label = None
        if (raw := params.get("label")) is not None:
            key, sep, value = raw.partition(":")
            if not sep or not key:
                raise InvalidQuery("Write a label filter as key:value.")
            label = (key, value)
        return cls(
            project_id=project_id,
            since=since,
            until=until,
            branch=params.get("branch", ""),
            environment=params.get("environment", ""),
            revision=params.get("revision", ""),
            label=label,
        )

    def queryset(self) -> QuerySet[CaseResult]:
        start = timezone.make_aware(datetime.combine(self.since, time.min))
        end = timezone.make_aware(datetime.combine(self.until + timedelta(days=1), time.min))
        qs = CaseResult.objects.filter(
            project_id=self.project_id, created_at__gte=start, created_at__lt=end
        )
        for name in ("branch", "environment", "revision"):
            if value := getattr(self, name):
                qs = qs.filter(**{name: value})
        if self.label:
            qs = _with_label(qs, *self.label)
        return qs


def _date(raw: str | None, name: str) -> date | None:
    if raw is None:
        return None
    if raw == "":  # as the list filters: a parameter without a value is a mistake
        raise InvalidQuery(f"`{name}`: give a date like 2026-01-31, or leave the parameter out.")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidQuery(f"`{name}` must be a date like 2026-01-31.") from None


def _with_label(qs: QuerySet, key: str, value: str) -> QuerySet:
    if connection.features.supports_json_field_contains:
        return qs.filter(labels__contains={key: value})  # jsonb @>, served by the GIN index
    # SQLite: match the pair as it is written in the stored JSON text.
    pair = f"{json.dumps(key)}: {json.dumps(value)}"
    return qs.alias(labels_text=Cast("labels", TextField())).filter(labels_text__contains=pair)


def _counts() -> dict:
    return {
        "total": Count("*"),
        "passed": Count("outcome", filter=Q(outcome=Outcome.PASSED)),
        "failed": Count("outcome", filter=Q(outcome=Outcome.FAILED)),
        "error": Count("outcome", filter=Q(outcome=Outcome.ERROR)),
        "skipped": Count("outcome", filter=Q(outcome=Outcome.SKIPPED)),
    }


def _percentiles() -> dict:
    return {
        "duration_p50_ms": PercentileCont("duration_ms", 0.5),
        "duration_p95_ms": PercentileCont("duration_ms", 0.95),
        "queue_wait_p50_ms": PercentileCont("queue_wait_ms", 0.5),
        "queue_wait_p95_ms": PercentileCont("queue_wait_ms", 0.95),
    }


def _finish(row: dict) -> dict:
    decisive = row["passed"] + row["failed"] + row["error"]
    row["pass_rate"] = round(row["passed"] / decisive, 4) if decisive else None
    for key in ("duration_p50_ms", "duration_p95_ms", "queue_wait_p50_ms", "queue_wait_p95_ms"):
        if row.get(key) is not None:
            row[key] = round(row[key], 1)
    return row


def _percentile_aggregates() -> bool:
    return connection.vendor == "postgresql"


def statistics(flt: ResultFilter) -> dict:
    """Counts by outcome, pass rate (passed / decided), duration and queue wait p50 / p95."""
    qs = flt.queryset()
    if _percentile_aggregates():
        return _finish(qs.aggregate(**_counts(), **_percentiles()))
    row = qs.aggregate(**_counts())
    row.update(_python_percentiles(qs))
    return _finish(row)


def trends_queryset(flt: ResultFilter) -> QuerySet:
    """One row per day with counts and percentiles (PostgreSQL): one scan of the range."""
    by_day = flt.queryset().annotate(day=TruncDate("created_at")).values("day").order_by("day")
    return by_day.annotate(**_counts(), **_percentiles())


def trends(flt: ResultFilter) -> list[dict]:
    """The statistics per day of the range; days without results are left out."""
    if _percentile_aggregates():
        return [_finish(row) for row in trends_queryset(flt)]
    qs = flt.queryset().annotate(day=TruncDate("created_at")).values("day").order_by("day")
    rows = []
    for row in qs.annotate(**_counts()):
        day_start = timezone.make_aware(datetime.combine(row["day"], time.min))
        day = flt.queryset().filter(
            created_at__gte=day_start, created_at__lt=day_start + timedelta(days=1)
        )
        row.update(_python_percentiles(day))
        rows.append(_finish(row))
    return rows


def _python_percentiles(qs: QuerySet) -> dict:
    out = {}
    for column, name in (("duration_ms", "duration"), ("queue_wait_ms", "queue_wait")):
        values = sorted(
            qs.filter(**{f"{column}__isnull": False}).values_list(column, flat=True).order_by()
        )
        out[f"{name}_p50_ms"] = _percentile(values, 0.5)
        out[f"{name}_p95_ms"] = _percentile(values, 0.95)
    return out


def _percentile(values: list[int], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PERCENTILE_CONT computes it."""
    if not values:
        return None
    rank = fraction * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


RANKED = 10  # rows of each ranking on the analytics page


def slowest_cases(flt: ResultFilter, limit: int = RANKED) -> list[dict]:
    """The cases of the range with the longest mean duration: {case_id, key, name, runs,
    mean_ms, max_ms}, slowest first. Skipped results, which did not run, are left out."""
    timed = flt.queryset().filter(duration_ms__isnull=False).exclude(outcome=Outcome.SKIPPED)
    rows = (
        timed.values("case_id", "case__key", "case__name")
        .annotate(runs=Count("*"), mean_ms=Avg("duration_ms"), max_ms=Max("duration_ms"))
        .order_by("-mean_ms", "case__key")[:limit]
    )
    return [_case_row(row, mean_ms=round(row["mean_ms"], 1), max_ms=row["max_ms"]) for row in rows]


def most_failing_cases(flt: ResultFilter, limit: int = RANKED) -> list[dict]:
    """The cases of the range with the most failed or errored results: {case_id, key, name, runs,
    failures, failure_rate}, most failures first."""
    rows = (
        flt.queryset()
        .values("case_id", "case__key", "case__name")
        .annotate(
            runs=Count("*"),
            failures=Count("id", filter=Q(outcome__in=(Outcome.FAILED, Outcome.ERROR))),
        )
        .filter(failures__gt=0)
        .order_by("-failures", "case__key")[:limit]
    )
    return [
        _case_row(row, failures=row["failures"], failure_rate=row["failures"] / row["runs"])
        for row in rows
    ]


def _case_row(row: dict, **figures) -> dict:
    return {
        "case_id": row["case_id"],
        "key": row["case__key"],
        "name": row["case__name"],
        "runs": row["runs"],
        **figures,
    }


def breakdown(flt: ResultFilter, field: str, limit: int = RANKED) -> list[dict]:
    """Counts and pass rate per value of `field` ("branch" or "environment") in the range, the
    busiest first: {value, total, passed, failed, error, skipped, pass_rate}."""
    if field not in ("branch", "environment"):
        raise ValueError(field)
    rows = flt.queryset().values(field).annotate(**_counts()).order_by("-total", field)[:limit]
    return [_finish({"value": row.pop(field), **row}) for row in rows]


# --- per case ------------------------------------------------------------------------------------


def flaky_cases(project_id: int) -> QuerySet[CaseStats]:
    return (
        CaseStats.objects.filter(project_id=project_id, is_flaky=True)
        .select_related("case")
        .order_by("-flaky_score", "case__key")
    )


def case_history(case: TestCase) -> QuerySet[CaseResult]:
    return case.results.order_by("-created_at", "-id")


def suite_latest_finished_run(suite_id: int) -> Execution | None:
    return (
        Execution.objects.filter(test_suite_id=suite_id, status__in=TERMINAL)
        .order_by("-finished_at", "-id")
        .first()
    )
