"""The overview's "Recent results" and trend (issue 15, also found): results show their branch
and duration, at most RECENT_ROWS of them with a link to every run; the trend is as wide as the
days it has."""

import re

import pytest

from dashboard.selectors import RECENT_ROWS
from engine import worker as engine
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db


def panels(client) -> str:
    return client.get("/overview/panels/").content.decode()


def test_recent_results_show_branch_and_duration_and_are_limited(client, owner, project):
    case = TestCaseFactory(project=project)
    for _ in range(RECENT_ROWS + 2):
        execution_for(case, branch="release/2.0")
        engine.run_next(worker="test-worker")
    client.force_login(owner)
    html = panels(client)
    recent = re.search(r"<h2>Recent results.*?</table>", html, re.S)[0]
    assert recent.count("data-execution-row") == RECENT_ROWS
    assert "release/2.0" in recent and "<th>Took</th>" in recent
    assert re.search(r'title="how long it took">\d+\.\d s<', recent)
    assert 'href="/executions/"' in recent  # every run is on the executions page
    assert "just now" in recent and "0 minutes" not in recent


def test_one_day_of_runs_is_a_narrow_chart_not_a_dot_in_an_empty_frame(client, owner, project):
    execution_for(TestCaseFactory(project=project))
    engine.run_next(worker="test-worker")
    client.force_login(owner)
    chart = re.search(r'<svg class="trend".*?</svg>', panels(client), re.S)[0]
    assert int(re.search(r'viewBox="0 0 (\d+) ', chart)[1]) <= 200
    assert chart.count('class="trend-bar"') == 1


def test_one_run_is_one_run_not_one_runs(client, owner, project):
    """Issue 15, "also found": the case page said "last 1 runs"."""
    case = TestCaseFactory(project=project)
    execution_for(case)
    engine.run_next(worker="test-worker")
    client.force_login(owner)
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert "last 1 run<" in html and "1 runs" not in html
    assert "1 result in total" in html
