"""The executions page (issue 15, "build besides the fixes"): every run of the user's projects,
newest first, filtered, in keyset pages, with counts capped; nothing of another project."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import execution_search
from engine import worker as engine
from executions.models import Execution
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory, execution_for

pytestmark = pytest.mark.django_db
URL = "/executions/"
FAILING = [
    {"name": "set x", "action": "set", "params": {"values": {"x": 1}}},
    {"name": "x is 2", "action": "assert", "params": {"variable": "x", "equals": 2}},
]


def listed(response) -> list[int]:
    return [run.pk for run in response.context["page"].runs]


@pytest.fixture
def runs(project, other_project):
    """Two finished case runs of the project on two branches (one failed), a suite run with its
    two children, and a run of another project."""
    passing = TestCaseFactory(project=project, key="login")
    failing = TestCaseFactory(project=project, key="checkout", steps=FAILING)
    suite = TestSuiteFactory(project=project, name="Smoke")
    for order, case in enumerate((passing, failing)):
        SuiteItemFactory(suite=suite, case=case, order=order)
    made = {
        "passed": execution_for(passing, branch="main", revision="abc123", environment="staging"),
        "failed": execution_for(
            failing, branch="feature/x", labels={"team": "shop"}, environment="prod"
        ),
        "suite": execution_for(suite=suite, branch="main"),
        "elsewhere": execution_for(TestCaseFactory(project=other_project)),
    }
    while engine.run_next(worker="test-worker"):
        pass
    made["children"] = list(made["suite"].children.order_by("id"))
    return made


def test_lists_the_users_runs_newest_first_without_other_projects(client, owner, runs):
    client.force_login(owner)
    response = client.get(URL)
    assert response.status_code == 200
    assert listed(response) == [runs["suite"].pk, runs["failed"].pk, runs["passed"].pk]
    html = response.content.decode()
    assert f'href="/executions/{runs["elsewhere"].pk}/"' not in html
    assert 'class="current">Executions</a>' in html  # the header's link
    assert 'data-segment="failed"' in html  # the failed run's bar is coloured by its outcome


@pytest.mark.parametrize(
    "query,expected",
    [
        ("status=failed", ["suite", "failed"]),
        ("branch=main", ["suite", "passed"]),
        ("revision=abc123", ["passed"]),
        ("environment=prod", ["failed"]),
        ("label=team:shop", ["failed"]),
        ("trigger=user", ["suite", "failed", "passed"]),
        ("trigger=schedule", []),
        ("case=checkout", ["child-1", "failed"]),
        ("scope=cases&status=passed", ["child-0", "passed"]),
    ],
)
def test_filters(client, owner, runs, query, expected):
    client.force_login(owner)
    names = {runs[k].pk: k for k in ("passed", "failed", "suite")}
    names.update({child.pk: f"child-{i}" for i, child in enumerate(runs["children"])})
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200
    assert [names[pk] for pk in listed(response)] == expected


def test_filters_by_project_suite_and_dates(client, owner, project, runs):
    client.force_login(owner)
    suite = runs["suite"].test_suite_id
    assert listed(client.get(f"{URL}?suite={suite}")) == [runs["suite"].pk]
    assert len(listed(client.get(f"{URL}?project={project.pk}"))) == 3
    today = timezone.localdate()
    assert len(listed(client.get(f"{URL}?since={today}&until={today}"))) == 3
    yesterday = today - timedelta(days=1)
    assert listed(client.get(f"{URL}?until={yesterday}")) == []


@pytest.mark.parametrize(
    "query",
    [
        "project={other}",  # another project's id is no choice: nothing is listed
        "label=no-colon",
        "since=0001-01-01",
        "until=9999-12-31",
        "since=2026-02-02&until=2026-01-01",
        "status=exploded",
        "project=99999999999999999999",
    ],
)
def test_bad_filters_are_explained_not_500(client, owner, other_project, runs, query):
    client.force_login(owner)
    response = client.get(URL + "?" + query.format(other=other_project.pk))
    assert response.status_code == 200
    assert response.context["page"] is None
    assert "errorlist" in response.content.decode()


def test_hostile_cursors_start_from_the_newest(client, owner, runs):
    client.force_login(owner)
    for cursor in ("before=99999999999999999999", "before=-1", "after=abc", "before="):
        assert listed(client.get(f"{URL}?{cursor}"))[0] == runs["suite"].pk
    # Another project's run as a cursor tells nothing about it: the list starts from the newest.
    assert listed(client.get(f"{URL}?before={runs['elsewhere'].pk}"))[0] == runs["suite"].pk


def test_keyset_pages_walk_every_run_once_both_ways(client, owner, project, monkeypatch):
    monkeypatch.setattr(execution_search, "PAGE_SIZE", 3)
    case = TestCaseFactory(project=project)
    made = [execution_for(case).pk for _ in range(8)]
    # Two runs of one instant: the id breaks the tie, so neither is skipped nor shown twice.
    Execution.objects.filter(pk__in=made[3:5]).update(created_at=timezone.now())
    expected = [
        pk
        for pk, _ in sorted(
            Execution.objects.filter(pk__in=made).values_list("pk", "created_at"),
            key=lambda row: (row[1], row[0]),
            reverse=True,
        )
    ]
    client.force_login(owner)
    seen, pages, query = [], [], ""
    while True:
        page = client.get(f"{URL}?{query}").context["page"]
        pages.append(page)
        seen += [run.pk for run in page.runs]
        if page.older is None:
            break
        query = f"before={page.older}"
    assert seen == expected
    assert [len(p.runs) for p in pages] == [3, 3, 2]
    assert pages[0].newer is None and pages[1].newer is not None
    back = client.get(f"{URL}?after={pages[2].newer}").context["page"]
    assert [run.pk for run in back.runs] == expected[3:6]


def test_count_is_capped(client, owner, project, monkeypatch):
    monkeypatch.setattr(execution_search, "COUNT_CAP", 2)
    case = TestCaseFactory(project=project)
    for _ in range(3):
        execution_for(case)
    client.force_login(owner)
    response = client.get(URL)
    assert response.context["page"].capped
    assert "More than 2 runs" in response.content.decode()


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_stranger_sees_only_their_own_project(client, stranger, runs):
    client.force_login(stranger)
    response = client.get(URL)
    assert listed(response) == [runs["elsewhere"].pk]


def test_empty_states(client, owner, runs):
    client.force_login(owner)
    assert "No run matches these filters" in client.get(f"{URL}?branch=nope").content.decode()
    Execution.objects.all().delete()
    assert "Nothing has run yet" in client.get(URL).content.decode()
