"""Reads of the dashboard pages. Every function takes the ids of the projects the user may see
(catalog.access.visible_project_ids), so one page never shows another project's work."""

import hashlib
from datetime import datetime, time, timedelta

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from catalog.models import TestCase
from executions.models import ACTIVE, Execution, ExecutionEvent, ExecutionStatus
from executions.progress import children_statuses
from results.models import CaseStats
from results.selectors import case_history as results_case_history
from results.selectors import flaky_cases as results_flaky_cases

S = ExecutionStatus
FAILING = (S.FAILED, S.ERROR, S.TIMED_OUT)
# What the overview's tiles count and its panels list, one definition for both: case runs (a
# suite run is its cases), so the "Running" tile and the "Running" panel cannot disagree.
RUNNING = (S.RUNNING, S.CANCELLING)
WAITING = (S.QUEUED, S.PENDING)
JUDGED = (S.PASSED, *FAILING)


def _runs(project_ids) -> QuerySet[Execution]:
    return Execution.objects.filter(project_id__in=project_ids).select_related(
        "project", "test_case", "test_suite"
    )


def overview_counters(project_ids) -> dict:
    since = timezone.now() - timedelta(hours=24)
    cases = Execution.objects.filter(project_id__in=project_ids, test_case__isnull=False)
    counts = {
        row["status"]: row["n"]
        for row in cases.filter(Q(status__in=ACTIVE) | Q(finished_at__gte=since))
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    }
    judged = sum(counts.get(s, 0) for s in JUDGED)
    return {
        "queued": sum(counts.get(s, 0) for s in WAITING),
        "running": sum(counts.get(s, 0) for s in RUNNING),
        "awaiting_input": counts.get(S.AWAITING_INPUT, 0),
        "passed_24h": counts.get(S.PASSED, 0),
        "failed_24h": sum(counts.get(s, 0) for s in FAILING),
        "pass_rate_24h": round(100 * counts.get(S.PASSED, 0) / judged) if judged else None,
    }


def running_executions(project_ids, limit: int = 25, statuses=RUNNING) -> list[Execution]:
    """Case runs in `statuses` (those the "Running" tile counts, by default), oldest first."""
    return list(
        _runs(project_ids)
        .filter(status__in=statuses, test_case__isnull=False)
        .order_by("started_at", "id")[:limit]
    )


def awaiting_executions(project_ids, limit: int = 25) -> list[Execution]:
    """Manual runs waiting for a tester (the "Awaiting input" tile)."""
    return running_executions(project_ids, limit, statuses=(S.AWAITING_INPUT,))


def with_child_statuses(runs) -> list[Execution]:
    """The runs, each suite run with `child_statuses` ({status: n} of its children, read in one
    query for the whole list) for its outcome-segmented bar (dashboard.templatetags.outcomes)."""
    runs = list(runs)
    statuses = children_statuses([r.pk for r in runs if r.is_suite_run])
    for run in runs:
        if run.is_suite_run:
            run.child_statuses = statuses[run.pk]
    return runs


def queued_executions(project_ids, limit: int = 25) -> list[Execution]:
    return list(
        _runs(project_ids)
        .filter(status__in=WAITING, test_case__isnull=False)
        .order_by("-priority", "queued_at", "id")[:limit]
    )


# Rows of the overview's "Recent results": the rest is on the executions page it links to.
RECENT_ROWS = 10


def recent_results(project_ids, limit: int = RECENT_ROWS) -> list[Execution]:
    """Finished top-level runs (cases run alone and whole suite runs), newest first."""
    return list(
        _runs(project_ids)
        .filter(parent__isnull=True, finished_at__isnull=False)
        .order_by("-finished_at", "-id")[:limit]
    )


# How long the finished days of the trend are kept: they do not change once the day is over
# (a run's finished_at is the moment it finished), except when retention deletes old runs.
TREND_PAST_DAYS_SECONDS = 300


def pass_rate_trend(project_ids, days: int = 14) -> list[dict]:
    """Per day: how many case runs finished and what share passed (cancelled runs not judged).

    Today is counted on every call; the days before it once per TREND_PAST_DAYS_SECONDS (cache):
    they were most of the overview's reading, a day's runs each, on a page re-read at every event.
    The window starts at the first day's local midnight as a moment (finished_at__date would read
    every row: a date of each row cannot use the index on finished_at)."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    midnight = timezone.make_aware(datetime.combine(today, time.min))
    ids = sorted(project_ids)
    key = (
        "dashboard:trend:"
        + hashlib.sha256(
            f"{timezone.get_current_timezone_name()}|{first}|{today}|{ids}".encode()
        ).hexdigest()
    )
    by_day = cache.get(key)
    if by_day is None:
        start = timezone.make_aware(datetime.combine(first, time.min))
        by_day = _trend_days(ids, finished_at__gte=start, finished_at__lt=midnight)
        cache.set(key, by_day, TREND_PAST_DAYS_SECONDS)
    by_day = {**by_day, **_trend_days(ids, finished_at__gte=midnight)}
    trend = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        total, passed = by_day.get(day, (0, 0))
        rate = round(100 * passed / total, 1) if total else None
        trend.append({"day": day, "total": total, "passed": passed, "rate": rate})
    return trend


def _trend_days(project_ids, **window) -> dict:
    rows = (
        Execution.objects.filter(
            project_id__in=project_ids, test_case__isnull=False, status__in=JUDGED, **window
        )
        .annotate(day=TruncDate("finished_at"))
        .values("day")
        .annotate(total=Count("id"), passed=Count("id", filter=Q(status=S.PASSED)))
        .order_by()
    )
    return {row["day"]: (row["total"], row["passed"]) for row in rows}


def execution_events(execution: Execution, limit: int = 200) -> list[ExecutionEvent]:
    """The newest events of an execution, oldest first (the page's log)."""
    newest = list(
        ExecutionEvent.objects.filter(execution=execution)
        .select_related("actor")
        .order_by("-seq")[:limit]
    )
    return newest[::-1]


def suite_children(execution: Execution) -> list[Execution]:
    return list(execution.children.select_related("test_case").order_by("id"))


def manual_step_rows(case: TestCase, recorded: list[dict]) -> list[dict]:
    """Every step of a manual case, in order, each with what was recorded for it in this attempt
    or, before a tester got to it, as pending: the page lists the whole case from the start."""
    by_order = {s["order"]: s for s in recorded}
    rows = []
    for order, spec in enumerate(case.steps, start=1):
        step = by_order.pop(order, None)
        if step is None:
            name = spec.get("name") or spec.get("instruction", "")[:120]
            step = {
                "order": order,
                "name": name,
                "kind": "manual",
                "status": "pending",
                "expected": spec.get("expected", ""),
            }
        rows.append(step)
    # A result for a step the case no longer has (edited since) is still shown, after the rest.
    return rows + [by_order[o] for o in sorted(by_order)]


def project_cases(project_id: int) -> QuerySet[TestCase]:
    return TestCase.objects.filter(project_id=project_id).order_by("key")


def case_history(case: TestCase, limit: int = 30) -> list[dict]:
    """The case's latest results, newest first (the chart and the table read the same way), from
    results' per-case history (runs here and imported JUnit results alike): {execution, attempt,
    status, finished_at, seconds, revision, branch}. A re-run is the same execution with another
    attempt, so a row names both."""
    return [
        {
            "execution": row.execution_id,  # None for an imported result
            "attempt": row.attempt_number,
            "status": row.outcome,
            "finished_at": row.created_at,
            "seconds": row.duration_ms / 1000 if row.duration_ms is not None else None,
            "revision": row.revision,
            "branch": row.branch,
        }
        for row in results_case_history(case)[:limit]
    ]


def case_stats(case: TestCase):
    """results' per-case summary (runs, flaky score and verdict), or None before the first result."""
    return CaseStats.objects.filter(case=case).first()


def flaky_cases(project_ids, limit: int = 200) -> list:
    """Cases results judged flaky in these projects, most flaky first (CaseStats with the case)."""
    found = [
        stats
        for project_id in project_ids
        for stats in results_flaky_cases(project_id).select_related("case__project")[:limit]
    ]
    return sorted(found, key=lambda s: (-s.flaky_score, s.case.key))[:limit]
