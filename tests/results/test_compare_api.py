"""GET /api/v1/compare/ and the dashboard's compare page: shape, paging through a bucket, and
who may see what (a reader may; another project's run is a 404 like a missing one; anonymous
401 / sign-in)."""

import io

import pytest
from django.urls import reverse

from engine import worker as engine
from results.imports import junit_import
from tests.factories import MembershipFactory, TestCaseFactory, execution_for
from tests.results.test_compare import BASE, HEAD, junit

pytestmark = pytest.mark.django_db
URL = "/api/v1/compare/"


def upload(project, report: bytes) -> str:
    batch, _ = junit_import(project=project, stream=io.BytesIO(report), branch="main")
    return f"import:{batch.pk}"


@pytest.fixture
def refs(project):
    return upload(project, BASE), upload(project, HEAD)


def test_a_viewer_reads_the_comparison_with_every_bucket(refs, viewer, api_for):
    base, head = refs

    response = api_for(viewer).get(URL, {"base": base, "head": head})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["base"]["ref"], body["head"]["ref"]) == (base, head)
    assert body["counts"]["newly_failing"] == 2 and body["something_newly_fails"] is True
    assert list(body["buckets"]) == [
        "newly_failing",
        "still_failing",
        "fixed",
        "new_tests",
        "removed_tests",
        "slower",
    ]
    first = body["buckets"]["newly_failing"]["results"][0]
    assert first["key"] == "shop.turns_red"
    assert (first["base"]["outcome"], first["head"]["outcome"]) == ("passed", "failed")
    assert first["head"]["message"] == "cart is empty"
    assert len(first["head"]["signature"]) == 40  # results.signatures: a hex digest
    assert body["dashboard_url"] == f"http://testserver/compare/?base={base}&head={head}"


def test_the_base_defaults_to_the_previous_run(refs, viewer, api_for):
    base, head = refs

    body = api_for(viewer).get(URL, {"head": head}).json()

    assert body["base"]["ref"] == base


def test_a_bucket_is_paged_with_next_links(project, viewer, api_for):
    base = upload(project, junit(*[(f"t{i}", "passed", 0.1) for i in range(5)]))
    head = upload(project, junit(*[(f"t{i}", "failure", 0.1) for i in range(5)]))
    client = api_for(viewer)

    page = client.get(URL, {"base": base, "head": head, "bucket": "newly_failing", "limit": 2})
    keys = [row["key"] for row in page.json()["buckets"]["newly_failing"]["results"]]
    while page.json()["buckets"]["newly_failing"]["next"]:
        page = client.get(page.json()["buckets"]["newly_failing"]["next"])
        keys += [row["key"] for row in page.json()["buckets"]["newly_failing"]["results"]]

    assert list(page.json()["buckets"]) == ["newly_failing"]
    assert keys == [f"shop.t{i}" for i in range(5)]


def test_a_stranger_gets_the_same_404_as_for_a_missing_run(refs, stranger, api_for):
    base, head = refs

    hidden = api_for(stranger).get(URL, {"base": base, "head": head})
    missing = api_for(stranger).get(URL, {"base": "import:999999", "head": "import:999998"})

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_a_stranger_cannot_use_their_own_run_as_head_to_read_another_projects_base(
    refs, stranger, other_project, api_for
):
    own = upload(other_project, BASE)

    response = api_for(stranger).get(URL, {"base": refs[0], "head": own})

    assert response.status_code == 404


def test_runs_of_two_projects_are_a_400(refs, viewer, other_project, api_for):
    MembershipFactory(project=other_project, user=viewer)
    other = upload(other_project, HEAD)

    response = api_for(viewer).get(URL, {"base": refs[0], "head": other})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_query"


def test_anonymous_gets_401(refs, api_for):
    assert api_for(None).get(URL, {"base": refs[0], "head": refs[1]}).status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"head": "nonsense"},
        {"head": "import:1", "base": "import:-1"},
        {"head": "import:1", "ratio": "0.5"},
        {"head": "import:1", "limit": "0"},
        {"head": "import:1", "bucket": "everything"},
        {"head": "99999999999999999999"},
    ],
)
def test_bad_queries_are_a_400(viewer, api_for, query):
    response = api_for(viewer).get(URL, query)

    assert response.status_code == 400, response.content


def test_a_head_without_a_previous_run_compares_with_nothing(project, viewer, api_for):
    head = upload(project, junit(("a", "failure", 0.1)))

    body = api_for(viewer).get(URL, {"head": head}).json()

    assert body["base"] is None
    assert body["counts"]["new_tests"] == 1 and body["something_newly_fails"] is True


# --- the dashboard page ----------------------------------------------------------------------


def test_the_page_shows_buckets_newly_failing_first(refs, viewer, client):
    client.force_login(viewer)

    page = client.get(reverse("dashboard:compare"), {"base": refs[0], "head": refs[1]})

    assert page.status_code == 200
    html = page.content.decode()
    assert (
        html.index('id="newly_failing"')
        < html.index('id="still_failing"')
        < html.index('id="fixed"')
    )
    assert "shop.turns_red" in html and "cart is empty" in html
    assert "/cases/" in html


def test_the_page_is_a_404_for_a_stranger_and_a_400_for_a_bad_ref(refs, stranger, client):
    client.force_login(stranger)

    hidden = client.get(reverse("dashboard:compare"), {"base": refs[0], "head": refs[1]})
    bad = client.get(reverse("dashboard:compare"), {"head": "<script>"})

    assert hidden.status_code == 404
    assert bad.status_code == 400 and b"<script>" not in bad.content


def test_the_page_needs_sign_in(refs, client):
    page = client.get(reverse("dashboard:compare"), {"head": refs[1]})

    assert page.status_code == 302 and "/login/" in page["Location"]


# --- the links from run pages --------------------------------------------------------------------


def test_a_finished_run_page_links_to_the_comparison_with_its_previous_run(project, viewer, client):
    case = TestCaseFactory(
        project=project,
        steps=[{"name": "x is 1", "action": "assert", "params": {"variable": "x", "equals": 1}}],
    )
    first = execution_for(case, parameters={"x": 1}, branch="main")
    while engine.run_next(worker="w") is not None:
        pass
    second = execution_for(case, parameters={"x": 2}, branch="main")
    while engine.run_next(worker="w") is not None:
        pass
    client.force_login(viewer)

    page = client.get(reverse("dashboard:execution", args=[second.pk])).content.decode()
    oldest = client.get(reverse("dashboard:execution", args=[first.pk])).content.decode()

    assert f'href="/compare/?base=execution:{first.pk}&amp;head=execution:{second.pk}"' in page
    assert 'data-role="compare-previous"' not in oldest


def test_an_import_report_links_to_the_comparison_with_the_previous_import(refs, viewer, api_for):
    base, head = refs

    html = api_for(viewer).get(f"/api/v1/imports/{head.split(':')[1]}/report/?as=html")

    assert f'href="/compare/?base={base}&amp;head={head}"' in html.content.decode()
