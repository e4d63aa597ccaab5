"""Statistics, trends and per-case history; the indexes behind them (EXPLAIN, PostgreSQL)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from executions.models import Execution
from results.models import CaseResult
from results.selectors import ResultFilter, _percentile, case_history, trends
from tests.factories import TestCaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def results(project, finish):
    """Three days of results: today 2 passed + 1 failed, yesterday 1 error; other branch 1 pass."""
    case = TestCaseFactory(project=project)
    for outcome in ["passed", "passed", "failed"]:
        finish(case, [outcome], branch="main", labels={"env": "staging"})
    finish(case, ["error"], branch="main")
    finish(case, ["passed"], branch="feature")
    yesterday = timezone.now() - timedelta(days=1)
    CaseResult.objects.filter(outcome="error").update(created_at=yesterday)
    return case


def stats_of(client, project, query=""):
    return client.get(f"/api/v1/analytics/statistics/?project={project.pk}{query}")


def test_statistics_count_outcomes_and_pass_rate(results, project, viewer_api):
    data = stats_of(viewer_api, project).json()["statistics"]

    assert (data["total"], data["passed"], data["failed"], data["error"]) == (5, 3, 1, 1)
    assert data["pass_rate"] == 0.6
    assert data["duration_p50_ms"] is not None
    assert data["queue_wait_p95_ms"] is not None


def test_statistics_filter_by_branch_and_label(results, project, viewer_api):
    by_branch = stats_of(viewer_api, project, "&branch=feature").json()["statistics"]
    by_label = stats_of(viewer_api, project, "&label=env:staging").json()["statistics"]

    assert (by_branch["total"], by_branch["passed"]) == (1, 1)
    assert (by_label["total"], by_label["failed"]) == (3, 1)


def test_trends_group_by_day(results, project, viewer_api):
    days = viewer_api.get(f"/api/v1/analytics/trends/?project={project.pk}").json()["days"]

    today = timezone.localdate()
    assert [d["day"] for d in days] == [str(today - timedelta(days=1)), str(today)]
    assert [d["total"] for d in days] == [1, 4]
    assert days[0]["pass_rate"] == 0.0


def test_a_date_range_leaves_out_other_days(results, project, viewer_api):
    today = timezone.localdate()

    data = stats_of(viewer_api, project, f"&since={today}&until={today}").json()

    assert data["statistics"]["total"] == 4
    assert data["since"] == data["until"] == str(today)


def test_a_range_longer_than_a_year_is_cut_to_366_days(project, viewer_api):
    data = stats_of(viewer_api, project, "&since=2020-01-01&until=2026-01-31").json()

    assert (data["since"], data["until"]) == ("2025-01-31", "2026-01-31")


def test_since_after_until_is_an_empty_range(results, project, viewer_api):
    today = timezone.localdate()
    query = f"&since={today}&until={today - timedelta(days=2)}"

    days = viewer_api.get(f"/api/v1/analytics/trends/?project={project.pk}{query}").json()["days"]

    assert days == []


def test_the_last_representable_day_does_not_overflow(project, viewer_api):
    assert stats_of(viewer_api, project, "&until=9999-12-31").status_code == 200


def test_the_first_representable_days_do_not_overflow(project, viewer_api):
    """A year back from `until=0001-01-02` was before date.min: a 500 (found from the analytics
    page). The range is moved to the first days it can cover."""
    for query in ("&until=0001-01-02", "&since=0001-01-01&until=0001-01-01"):
        response = stats_of(viewer_api, project, query)
        assert response.status_code == 200
        assert response.json()["statistics"]["total"] == 0


@pytest.mark.parametrize(
    "query",
    ["&since=yesterday", "&until=2026-13-01", "&since=", "&until=", "&label=nokey", "&label="],
)
def test_bad_dates_and_filters_are_a_400(project, viewer_api, query):
    response = stats_of(viewer_api, project, query)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_query"


def test_analytics_need_a_project_the_user_can_see(viewer_api, other_project):
    assert viewer_api.get("/api/v1/analytics/trends/").status_code == 400
    assert viewer_api.get("/api/v1/analytics/trends/?project=-3").status_code == 404
    assert (
        viewer_api.get(f"/api/v1/analytics/trends/?project={other_project.pk}").status_code == 404
    )


def test_percentiles_interpolate_like_percentile_cont():
    assert _percentile([10, 20, 30, 40], 0.5) == 25
    assert _percentile([10, 20, 30, 40], 0.95) == pytest.approx(38.5)
    assert _percentile([], 0.5) is None


def test_case_history_newest_first_with_the_recent_window(results, project, viewer_api):
    data = viewer_api.get(f"/api/v1/analytics/cases/{results.pk}/").json()
    history = viewer_api.get(f"/api/v1/analytics/cases/{results.pk}/history/").json()

    assert data["stats"]["runs"] == 5
    assert [e["o"] for e in data["stats"]["recent"]] == [
        "passed",
        "passed",
        "failed",
        "error",
        "passed",
    ]
    assert history["count"] == 5
    assert history["results"][0]["branch"] == "feature"


def test_a_case_without_results_has_empty_stats(project, viewer_api):
    case = TestCaseFactory(project=project)

    data = viewer_api.get(f"/api/v1/analytics/cases/{case.pk}/").json()

    assert data["stats"]["runs"] == 0 and data["stats"]["pass_rate"] is None


# --- indexes ------------------------------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="EXPLAIN plans are PostgreSQL's"
)


def plan_of(queryset) -> str:
    with connection.cursor() as cursor:
        # Tiny test tables are cheapest to scan whole (and any index will do before a sort):
        # forbid both to see which index serves the filter and the order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    return queryset.explain()


@postgres_only
def test_statistics_and_trends_use_the_project_time_index(results, project):
    flt = ResultFilter.parse(project.pk, {})

    plan = plan_of(flt.queryset().values("outcome"))

    assert "caseresult_project_time" in plan
    assert trends(flt)  # and the real query runs


@postgres_only
def test_label_filters_can_use_the_gin_index(results, project):
    # With a project and a date range the planner may prefer caseresult_project_time and filter;
    # across a large range the containment test is served by the GIN index.
    plan = plan_of(CaseResult.objects.filter(labels__contains={"env": "staging"}))

    assert "caseresult_labels_gin" in plan


@postgres_only
def test_branch_filters_use_the_branch_index(results, project):
    plan = plan_of(ResultFilter.parse(project.pk, {"branch": "main"}).queryset())

    assert "caseresult_branch" in plan


@postgres_only
def test_case_history_uses_the_case_time_index(results):
    assert "caseresult_case_time" in plan_of(case_history(results)[:50])


@postgres_only
def test_execution_lists_use_the_project_status_and_case_indexes(results, project):
    by_status = Execution.objects.filter(project=project, status="failed").order_by("-created_at")
    by_case = Execution.objects.filter(test_case=results).order_by("-created_at")

    assert "exec_project_status" in plan_of(by_status[:50])
    assert "exec_case_created" in plan_of(by_case[:50])
