"""Every read endpoint of the results app: a viewer reads, a stranger gets 404, anonymous 401."""

import io

import pytest

from results.imports import junit_import
from results.services import hook_rotate
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory, execution_for
from tests.results.conftest import sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def urls(project):
    case = TestCaseFactory(project=project)
    suite = TestSuiteFactory(project=project)
    SuiteItemFactory(suite=suite, case=case)
    hook_rotate(suite)
    execution = execution_for(case)
    batch, _ = junit_import(project=project, stream=io.BytesIO(sample("go.xml")))
    p = project.pk
    return [
        f"/api/v1/executions/{execution.pk}/steps/",
        f"/api/v1/executions/{execution.pk}/steps/stream/",
        *(
            f"/api/v1/executions/{execution.pk}/report/?as={f}"
            for f in ("json", "html", "csv", "junit")
        ),
        f"/api/v1/imports/{batch.pk}/",
        f"/api/v1/imports/{batch.pk}/results/",
        *(f"/api/v1/imports/{batch.pk}/report/?as={f}" for f in ("json", "html", "csv", "junit")),
        f"/api/v1/analytics/statistics/?project={p}",
        f"/api/v1/analytics/trends/?project={p}",
        f"/api/v1/analytics/flaky/?project={p}",
        f"/api/v1/analytics/cases/{case.pk}/",
        f"/api/v1/analytics/cases/{case.pk}/history/",
        f"/api/v1/analytics/cases/{case.pk}/events/",
        f"/api/v1/hooks/suites/{suite.pk}/",
        f"/api/v1/suites/{suite.pk}/badge.svg",
    ]


def test_a_viewer_reads_every_results_endpoint(urls, viewer_api):
    statuses = {url: viewer_api.get(url).status_code for url in urls}

    assert set(statuses.values()) == {200}, statuses


def test_a_stranger_gets_404_everywhere(urls, stranger_api):
    statuses = {url: stranger_api.get(url).status_code for url in urls}

    assert set(statuses.values()) == {404}, statuses


def test_anonymous_gets_401_everywhere(urls, anon_api):
    statuses = {url: anon_api.get(url).status_code for url in urls}

    assert set(statuses.values()) == {401}, statuses


def test_errors_have_the_one_json_shape(urls, stranger_api):
    body = stranger_api.get(urls[0]).json()

    assert set(body) == {"code", "message", "detail"}


def test_a_stranger_lists_no_imports(urls, stranger_api, viewer_api):
    assert stranger_api.get("/api/v1/imports/").json()["count"] == 0
    assert viewer_api.get("/api/v1/imports/").json()["count"] == 1
