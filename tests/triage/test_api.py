"""The triage API: wiring, shapes and permissions (another project 404, a viewer cannot triage,
anonymous refused), categories and rules; rules applied at write time and triage carried over."""

import pytest

from results.runs import RunRef
from results.summaries import run_summary
from tests.factories import ProjectFactory
from tests.triage.conftest import report
from triage.grouping import _categoriser
from triage.models import Category, FailureGroup, GroupHit, TriageEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(upload):
    upload({"pays": "refused", "lists": "pass"})
    return FailureGroup.objects.get()


def test_members_list_the_groups_of_their_project(viewer_api, group):
    response = viewer_api.get(f"/api/v1/failure-groups/?project={group.project_id}")

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == group.pk
    assert row["last_state"] == "new"
    assert row["category"]["name"] == "To investigate"
    assert (row["occurrences"], row["cases_hit"], row["branches"]) == (1, 1, ["main"])


def test_another_projects_groups_are_invisible(stranger_api, group):
    listed = stranger_api.get(f"/api/v1/failure-groups/?project={group.project_id}")
    one = stranger_api.get(f"/api/v1/failure-groups/{group.pk}/")
    triage = stranger_api.post(
        f"/api/v1/failure-groups/{group.pk}/triage/", {"comment": "x"}, format="json"
    )

    assert listed.json()["results"] == []
    assert (one.status_code, triage.status_code) == (404, 404)


def test_anonymous_is_refused(anon_api, group):
    assert anon_api.get("/api/v1/failure-groups/").status_code in (401, 403)
    response = anon_api.post(f"/api/v1/failure-groups/{group.pk}/triage/", {}, format="json")
    assert response.status_code in (401, 403)


def test_a_viewer_cannot_triage(viewer_api, group):
    response = viewer_api.post(
        f"/api/v1/failure-groups/{group.pk}/triage/", {"comment": "mine"}, format="json"
    )

    assert response.status_code == 403
    group.refresh_from_db()
    assert group.comment == ""
    assert not TriageEvent.objects.exists()


def test_a_tester_triages_a_group_and_the_audit_trail_says_so(member_api, member, group):
    bug = Category.objects.get(project=group.project, name="Product bug")

    response = member_api.post(
        f"/api/v1/failure-groups/{group.pk}/triage/",
        {"category": bug.pk, "comment": "gateway down", "issue_url": "https://jira.example/SHOP-1"},
        format="json",
    )

    assert response.status_code == 200, response.content
    group.refresh_from_db()
    assert (group.category, group.comment, group.issue_url) == (
        bug,
        "gateway down",
        "https://jira.example/SHOP-1",
    )
    assert group.triaged_by == member
    event = TriageEvent.objects.get()
    assert event.actor == member
    assert event.changes["category"] == ["To investigate", "Product bug"]


@pytest.mark.parametrize(
    "body",
    [
        {"issue_url": "javascript:alert(1)"},
        {"category": 999_999},
        {"category": None},
        {"comment": 5 * "x" * 3000},
    ],
)
def test_bad_triage_is_a_4xx_and_changes_nothing(member_api, group, body):
    response = member_api.post(f"/api/v1/failure-groups/{group.pk}/triage/", body, format="json")

    assert response.status_code == 400
    assert "code" in response.json()
    assert not TriageEvent.objects.exists()


def test_a_category_of_another_project_is_refused(member_api, group):
    foreign = Category.objects.create(project=ProjectFactory(), name="Theirs")

    response = member_api.post(
        f"/api/v1/failure-groups/{group.pk}/triage/", {"category": foreign.pk}, format="json"
    )

    assert response.status_code == 400


def test_a_single_result_is_triaged_on_its_own(member_api, viewer_api, group):
    hit = GroupHit.objects.get()
    env = Category.objects.get(project=group.project, name="Environment issue")

    refused = viewer_api.post(
        f"/api/v1/failure-results/{hit.pk}/triage/", {"category": env.pk}, format="json"
    )
    response = member_api.post(
        f"/api/v1/failure-results/{hit.pk}/triage/", {"category": env.pk}, format="json"
    )

    assert refused.status_code == 403
    assert response.status_code == 200
    assert response.json()["category"]["name"] == "Environment issue"
    group.refresh_from_db()
    assert group.category.name == "To investigate"  # the group keeps its own
    assert TriageEvent.objects.get().hit == hit


def test_results_of_a_group_are_listed(viewer_api, group):
    response = viewer_api.get(f"/api/v1/failure-results/?group={group.pk}")

    assert response.status_code == 200
    assert [r["case_key"] for r in response.json()["results"]] == ["com.acme.CartTest.pays"]


def test_categories_default_and_are_edited_by_maintainers_only(
    owner_api, member_api, stranger_api, project
):
    listed = member_api.get(f"/api/v1/failure-categories/?project={project.pk}")
    by_tester = member_api.post(
        "/api/v1/failure-categories/", {"project": project.pk, "name": "Flaky infra"}, format="json"
    )
    by_stranger = stranger_api.post(
        "/api/v1/failure-categories/", {"project": project.pk, "name": "X"}, format="json"
    )
    created = owner_api.post(
        "/api/v1/failure-categories/", {"project": project.pk, "name": "Flaky infra"}, format="json"
    )
    again = owner_api.post(
        "/api/v1/failure-categories/", {"project": project.pk, "name": "Flaky infra"}, format="json"
    )

    assert [c["name"] for c in listed.json()["results"]] == [
        "To investigate",
        "Product bug",
        "Automation bug",
        "Environment issue",
    ]
    assert by_tester.status_code == 403
    assert by_stranger.status_code in (400, 404)
    assert created.status_code == 201
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"  # the house answer to a name already taken
    default = Category.objects.get(project=project, is_default=True)
    assert owner_api.delete(f"/api/v1/failure-categories/{default.pk}/").status_code == 400


def test_a_rule_categorises_new_groups_at_write_time(owner_api, project, upload):
    owner_api.get(f"/api/v1/failure-categories/?project={project.pk}")
    env = Category.objects.get(project=project, name="Environment issue")
    bad = owner_api.post(
        "/api/v1/triage-rules/",
        {"project": project.pk, "category": env.pk, "field": "message", "pattern": "(unclosed"},
        format="json",
    )
    rule = owner_api.post(
        "/api/v1/triage-rules/",
        {
            "project": project.pk,
            "category": env.pk,
            "field": "message",
            "pattern": "Connection refused",
        },
        format="json",
    )

    upload({"pays": "refused", "adds": "assert"})

    assert bad.status_code == 400
    assert rule.status_code == 201, rule.content
    refused = FailureGroup.objects.get(error_type="java.net.ConnectException")
    assert refused.category == env
    assert refused.triaged_label == f"rule #{rule.json()['id']}"
    assert (
        FailureGroup.objects.get(error_type__contains="Assertion").category.name == "To investigate"
    )
    assert TriageEvent.objects.get().actor_label.startswith("rule #")


def test_a_triaged_signature_carries_its_category_and_link_to_new_occurrences(
    member_api, group, upload
):
    bug = Category.objects.get(project=group.project, name="Product bug")
    member_api.post(
        f"/api/v1/failure-groups/{group.pk}/triage/",
        {"category": bug.pk, "issue_url": "https://jira.example/SHOP-9"},
        format="json",
    )

    batch = upload({"pays": "refused", "lists": "pass"})

    (known,) = run_summary(RunRef.of_batch(batch.pk))["what_matters"]["known"]
    assert (known["category"], known["issue_url"], known["triaged"]) == (
        "Product bug",
        "https://jira.example/SHOP-9",
        True,
    )
    assert FailureGroup.objects.count() == 1


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)+$", r"(\w+\s?)*$", r"(\d+)-\1", "(x){2,}"])
def test_a_rule_that_could_backtrack_forever_is_refused(owner_api, project, pattern):
    owner_api.get(f"/api/v1/failure-categories/?project={project.pk}")
    category = Category.objects.get(project=project, is_default=True)

    response = owner_api.post(
        "/api/v1/triage-rules/",
        {"project": project.pk, "category": category.pk, "field": "message", "pattern": pattern},
        format="json",
    )

    assert response.status_code == 400
    assert "forever" in response.json()["message"]


@pytest.mark.parametrize("pattern", [r"\w*\w*\w*\w*\w*\w*!", r".*.*.*.*.*!", r"(\w+){10}!"])
def test_a_rule_that_backtracks_in_python_runs_in_linear_time(owner_api, project, pattern):
    """An outsider's patterns the refusal above lets through: with Python's `re` each holds the
    process for minutes on a long message (this test would not end); rules match with RE2."""
    owner_api.get(f"/api/v1/failure-categories/?project={project.pk}")
    env = Category.objects.get(project=project, name="Environment issue")
    rule = owner_api.post(
        "/api/v1/triage-rules/",
        {"project": project.pk, "category": env.pk, "field": "message", "pattern": pattern},
        format="json",
    )
    assert rule.status_code == 201, rule.content

    categorise = _categoriser(project.pk)

    assert categorise("Error", "a" * 500)[1] is None  # searched to the end, no match
    assert categorise("Error", "a" * 499 + "!")[1].pk == rule.json()["id"]


def test_the_upload_answer_of_ci_leads_with_what_matters(member_api, project, upload):
    upload({"pays": "refused", "adds": "assert"})
    response = member_api.post(
        f"/api/v1/imports/junit/?project={project.pk}&branch=main",
        data=report({"pays": "refused", "adds": "pass", "lists": "npe"}, n=7),
        content_type="application/xml",
    )

    assert response.status_code == 201, response.content[:300]
    counts = response.json()["what_matters"]["counts"]
    assert (counts["new"], counts["fixed"], counts["known"]) == (1, 1, 1)
