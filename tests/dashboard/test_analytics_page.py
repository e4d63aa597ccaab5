"""A project's analytics page (issue 15, "build besides the fixes"): results' figures as charts
drawn on the server, rankings, breakdowns per branch and environment, empty states, access."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from results.models import CaseOutcome, CaseResult, ImportBatch
from tests.factories import TestCaseFactory

pytestmark = pytest.mark.django_db


def url(project, query=""):
    return f"/projects/{project.pk}/analytics/" + (f"?{query}" if query else "")


def result(case, outcome, ms, *, days_ago=0, branch="main", environment="staging"):
    """A result as an import leaves one (a result needs a source: a batch or an execution)."""
    batch, _ = ImportBatch.objects.get_or_create(
        project=case.project, idempotency_key="analytics-test", defaults={"content_sha256": "0"}
    )
    return CaseResult.objects.create(
        project=case.project,
        case=case,
        batch=batch,
        outcome=outcome,
        duration_ms=ms,
        branch=branch,
        environment=environment,
        created_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def history(project):
    """Two days of results: a slow case that always passes, a fast one that fails on a branch."""
    slow = TestCaseFactory(project=project, key="slow-report")
    shaky = TestCaseFactory(project=project, key="cart-total")
    for days_ago in (0, 1):
        result(slow, CaseOutcome.PASSED, 9000, days_ago=days_ago)
        result(shaky, CaseOutcome.PASSED, 100, days_ago=days_ago)
    result(shaky, CaseOutcome.FAILED, 120, branch="feature/x", environment="prod")
    result(shaky, CaseOutcome.ERROR, 50, branch="feature/x", environment="prod")
    return {"slow": slow, "shaky": shaky}


def test_charts_figures_and_rankings(client, owner, project, history):
    client.force_login(owner)
    response = client.get(url(project))
    assert response.status_code == 200
    html = response.content.decode()
    ctx = response.context
    assert ctx["stats"]["total"] == 6
    assert [row["key"] for row in ctx["slowest"]] == ["slow-report", "cart-total"]
    assert [(row["key"], row["failures"]) for row in ctx["failing"]] == [("cart-total", 2)]
    assert [row["value"] for row in ctx["branches"]] == ["main", "feature/x"]
    # Two days: one bar of stacked outcomes each, the failures in their own colours.
    chart = re.search(r'<section class="panel" id="chart-results">.*?</section>', html, re.S)[0]
    assert chart.count('data-outcome="passed"') == 2
    assert 'data-outcome="failed"' in chart and 'data-outcome="error"' in chart
    assert "<script" not in chart and "http" not in chart.replace("http://www.w3.org", "")
    assert 'id="chart-durations"' in html and "chart-p95" in html


def test_a_branch_filter_narrows_every_figure(client, owner, project, history):
    client.force_login(owner)
    ctx = client.get(url(project, "branch=feature/x")).context
    assert ctx["stats"]["total"] == 2 and ctx["stats"]["pass_rate"] == 0
    assert [row["key"] for row in ctx["slowest"]] == ["cart-total"]
    ctx = client.get(url(project, "environment=staging")).context
    assert ctx["stats"]["total"] == 4 and ctx["failing"] == []


def test_one_day_of_data_is_one_bar_not_a_wide_empty_frame(client, owner, project):
    result(TestCaseFactory(project=project), CaseOutcome.PASSED, 10)
    client.force_login(owner)
    html = client.get(url(project)).content.decode()
    chart = re.search(r'<section class="panel" id="chart-results">.*?</section>', html, re.S)[0]
    width = int(re.search(r'viewBox="0 0 (\d+) ', chart)[1])
    assert chart.count("<rect") == 1 and width <= 300


def test_empty_state(client, owner, project):
    client.force_login(owner)
    html = client.get(url(project)).content.decode()
    assert 'data-role="no-results"' in html and "<svg" not in html


@pytest.mark.parametrize(
    "query", ["since=yesterday", "until=0000-00-00", "branch=x&until=31.12.2026"]
)
def test_bad_dates_are_said_and_the_default_range_shown(client, owner, project, history, query):
    client.force_login(owner)
    response = client.get(url(project, query))
    assert response.status_code == 200
    assert "Showing the last 30 days instead" in response.content.decode()
    assert response.context["stats"]["total"] == 6


def test_far_dates_do_not_crash(client, owner, project):
    client.force_login(owner)
    for query in ("until=9999-12-31", "since=0001-01-01&until=0001-01-02"):
        assert client.get(url(project, query)).status_code == 200


def test_access(client, viewer, stranger, project, history):
    assert client.get(url(project)).status_code == 302  # anonymous: to sign in
    client.force_login(stranger)
    assert client.get(url(project)).status_code == 404  # another project's: no such page
    client.force_login(viewer)
    assert client.get(url(project)).status_code == 200  # any member may read it
