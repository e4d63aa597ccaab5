"""The catalog API's wiring and shapes: CRUD of projects, members, cases and suites, filters."""

import pytest

from catalog.models import (
    CasePriority,
    CaseStatus,
    CaseType,
    Membership,
    Project,
    Role,
    TestCase,
    TestSuite,
)
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    SuiteItemFactory,
    TestCaseFactory,
    TestSuiteFactory,
    UserFactory,
    execution_for,
)

PROJECTS = "/api/v1/projects/"
CASES = "/api/v1/test-cases/"
SUITES = "/api/v1/test-suites/"

FEATURE = "Feature: f\n  Scenario: s\n    Given a step\n"


def _keys(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["key"] for row in response.json()["results"]]


# --- Projects ---------------------------------------------------------------------------------


def test_creating_a_project_makes_the_creator_its_maintainer(api_for, db):
    user = UserFactory()

    response = api_for(user).post(PROJECTS, {"name": "Shop", "slug": "shop"})

    assert response.status_code == 201, response.content
    assert response.json()["role"] == Role.MAINTAINER
    membership = Membership.objects.get(project_id=response.json()["id"])
    assert (membership.user, membership.role) == (user, Role.MAINTAINER)


def test_project_list_holds_only_the_users_projects_with_their_role(viewer_api, project):
    ProjectFactory()

    response = viewer_api.get(PROJECTS)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["id"], r["role"]) for r in rows] == [(project.pk, Role.VIEWER)]


def test_superuser_sees_every_project_as_maintainer(api_for, project, other_project):
    admin = UserFactory(is_superuser=True, is_staff=True)

    response = api_for(admin).get(PROJECTS)

    rows = response.json()["results"]
    assert {r["id"] for r in rows} == {project.pk, other_project.pk}
    assert {r["role"] for r in rows} == {Role.MAINTAINER}


def test_maintainer_changes_project_settings(owner_api, project):
    response = owner_api.patch(
        f"{PROJECTS}{project.pk}/", {"allowed_hosts": ["shop.example.com"], "retention_days": 7}
    )

    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert (project.allowed_hosts, project.retention_days) == (["shop.example.com"], 7)


def test_maintainer_deletes_a_project_with_its_catalog(owner_api, project):
    TestCaseFactory(project=project)

    response = owner_api.delete(f"{PROJECTS}{project.pk}/")

    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not TestCase.objects.exists()


# --- Members ----------------------------------------------------------------------------------


def test_members_are_listed_with_their_roles(viewer_api, project, owner, viewer):
    response = viewer_api.get(f"{PROJECTS}{project.pk}/members/")

    assert response.status_code == 200
    rows = {(r["user"], r["username"], r["role"]) for r in response.json()}
    assert rows == {
        (owner.pk, owner.username, Role.MAINTAINER),
        (viewer.pk, viewer.username, Role.VIEWER),
    }


def test_maintainer_adds_a_member(owner_api, project):
    newcomer = UserFactory()

    response = owner_api.post(
        f"{PROJECTS}{project.pk}/members/", {"user": newcomer.username, "role": Role.TESTER}
    )

    assert response.status_code == 201, response.content
    assert Membership.objects.get(project=project, user=newcomer).role == Role.TESTER


def test_maintainer_adds_a_member_by_email_address(owner_api, project):
    newcomer = UserFactory(email="New.Comer@example.test")

    response = owner_api.post(
        f"{PROJECTS}{project.pk}/members/", {"user": "new.comer@example.test", "role": "viewer"}
    )

    assert response.status_code == 201, response.content
    assert Membership.objects.get(project=project, user=newcomer).role == Role.VIEWER


def test_a_user_id_does_not_add_a_member_or_reveal_the_username(owner_api, project):
    # Ids count up: if they worked, anyone could list every account through their own project.
    someone = UserFactory()

    response = owner_api.post(
        f"{PROJECTS}{project.pk}/members/", {"user": someone.pk, "role": Role.VIEWER}, format="json"
    )

    assert response.status_code == 400
    assert someone.username not in response.content.decode()
    assert not Membership.objects.filter(project=project, user=someone).exists()


@pytest.mark.parametrize("kind", ["unknown", "inactive", "ambiguous email"])
def test_a_user_that_cannot_be_added_gets_one_answer(owner_api, project, owner, kind):
    if kind == "inactive":
        name = UserFactory(is_active=False).username
    elif kind == "ambiguous email":
        name = "shared@example.test"
        UserFactory(email=name)
        UserFactory(email=name)
    else:
        name = "nobody-by-this-name"

    response = owner_api.post(f"{PROJECTS}{project.pk}/members/", {"user": name, "role": "viewer"})

    assert response.status_code == 404
    assert response.json()["detail"] == {
        "user": ["No active user has this username or email address."]
    }
    assert list(project.memberships.values_list("user__username", flat=True)) == [owner.username]


def test_maintainer_changes_a_members_role(owner_api, project, viewer):
    response = owner_api.post(
        f"{PROJECTS}{project.pk}/members/", {"user": viewer.username, "role": Role.TESTER}
    )

    assert response.status_code == 200, response.content
    membership = Membership.objects.get(project=project, user=viewer)
    membership.refresh_from_db()
    assert membership.role == Role.TESTER


def test_maintainer_removes_a_member(owner_api, project, viewer):
    response = owner_api.delete(f"{PROJECTS}{project.pk}/members/{viewer.pk}/")

    assert response.status_code == 204
    assert not Membership.objects.filter(project=project, user=viewer).exists()


def test_removing_someone_who_is_not_a_member_is_404(owner_api, project):
    outsider = UserFactory()

    response = owner_api.delete(f"{PROJECTS}{project.pk}/members/{outsider.pk}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_last_maintainer_cannot_leave(owner_api, project, owner):
    response = owner_api.delete(f"{PROJECTS}{project.pk}/members/{owner.pk}/")

    assert response.status_code == 409
    assert response.json()["code"] == "last_maintainer"
    assert Membership.objects.filter(project=project, user=owner).exists()


def test_the_last_maintainer_cannot_step_down(owner_api, project, owner):
    response = owner_api.post(
        f"{PROJECTS}{project.pk}/members/", {"user": owner.username, "role": Role.VIEWER}
    )

    assert response.status_code == 409
    assert Membership.objects.get(project=project, user=owner).role == Role.MAINTAINER


def test_a_maintainer_may_leave_when_another_remains(owner_api, project, owner):
    MembershipFactory(project=project, role=Role.MAINTAINER)

    response = owner_api.delete(f"{PROJECTS}{project.pk}/members/{owner.pk}/")

    assert response.status_code == 204
    assert not Membership.objects.filter(project=project, user=owner).exists()


# --- Test cases -------------------------------------------------------------------------------


def test_maintainer_creates_a_case(owner_api, owner, project):
    body = {
        "project": project.pk,
        "key": "checkout/pay",
        "name": "Pay",
        "steps": [{"action": "wait", "params": {"seconds": 0}}],
        "tags": ["smoke"],
        "priority": CasePriority.HIGH,
    }

    response = owner_api.post(CASES, body)

    assert response.status_code == 201, response.content
    case = TestCase.objects.get(pk=response.json()["id"])
    assert (case.project, case.key, case.created_by) == (project, "checkout/pay", owner)
    assert (case.tags, case.priority) == (["smoke"], CasePriority.HIGH)


def test_case_detail_has_the_documented_shape(viewer_api, project):
    case = TestCaseFactory(project=project)

    response = viewer_api.get(f"{CASES}{case.pk}/")

    assert response.status_code == 200
    assert set(response.json()) == {
        "id",
        "project",
        "key",
        "name",
        "description",
        "type",
        "origin",
        "steps",
        "feature",
        "parameters",
        "preconditions",
        "priority",
        "tags",
        "status",
        "quarantined",
        "created_by",
        "created_at",
        "updated_at",
    }


def test_case_list_is_paginated(viewer_api, project):
    TestCaseFactory.create_batch(3, project=project)

    response = viewer_api.get(CASES, {"page_size": 2})

    body = response.json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert body["next"]


def test_maintainer_patches_a_case(owner_api, project):
    case = TestCaseFactory(project=project)

    response = owner_api.patch(f"{CASES}{case.pk}/", {"name": "Renamed", "quarantined": True})

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert (case.name, case.quarantined) == ("Renamed", True)


def test_maintainer_replaces_a_case_with_put(owner_api, project):
    case = TestCaseFactory(project=project, tags=["old"])
    body = {"key": case.key, "name": "New", "type": CaseType.BDD, "steps": [], "feature": FEATURE}

    response = owner_api.put(f"{CASES}{case.pk}/", body)

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert (case.name, case.type, case.feature) == ("New", CaseType.BDD, FEATURE)


def test_a_case_stays_in_its_project_on_update(api_for, owner, project):
    other = ProjectFactory()
    MembershipFactory(project=other, user=owner, role=Role.MAINTAINER)
    case = TestCaseFactory(project=project)

    response = api_for(owner).patch(f"{CASES}{case.pk}/", {"project": other.pk, "name": "x"})

    assert response.status_code == 200
    assert response.json()["project"] == project.pk
    case.refresh_from_db()
    assert (case.project, case.name) == (project, "x")


def test_maintainer_deletes_a_case(owner_api, project):
    case = TestCaseFactory(project=project)

    response = owner_api.delete(f"{CASES}{case.pk}/")

    assert response.status_code == 204
    assert not TestCase.objects.filter(pk=case.pk).exists()


def test_a_case_with_executions_cannot_be_deleted(owner_api, project):
    case = TestCaseFactory(project=project)
    execution_for(case)

    response = owner_api.delete(f"{CASES}{case.pk}/")

    assert response.status_code == 409
    assert response.json()["code"] == "in_use"
    assert TestCase.objects.filter(pk=case.pk).exists()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"type": CaseType.MANUAL}, ["manual"]),
        ({"status": CaseStatus.DEPRECATED}, ["old"]),
        ({"priority": CasePriority.CRITICAL}, ["critical"]),
        ({"quarantined": "true"}, ["flaky"]),
        ({"tag": "smoke"}, ["critical", "flaky"]),
        ({"tag": "SMOKE"}, []),
        ({"search": "crit"}, ["critical"]),
    ],
    ids=["type", "status", "priority", "quarantined", "tag", "tag-is-case-sensitive", "search"],
)
def test_case_list_filters(viewer_api, project, query, expected):
    TestCaseFactory(project=project, key="manual", type=CaseType.MANUAL, steps=[])
    TestCaseFactory(project=project, key="old", status=CaseStatus.DEPRECATED)
    TestCaseFactory(project=project, key="critical", priority=CasePriority.CRITICAL, tags=["smoke"])
    TestCaseFactory(project=project, key="flaky", quarantined=True, tags=["smoke", "ui"])
    TestCaseFactory(project=project, key="smoky", tags=["smoke-extra"])

    assert sorted(_keys(viewer_api.get(CASES, query))) == expected


def test_case_list_filters_by_project(api_for, viewer, project):
    other = ProjectFactory()
    MembershipFactory(project=other, user=viewer, role=Role.VIEWER)
    TestCaseFactory(project=project, key="here")
    TestCaseFactory(project=other, key="there")

    assert _keys(api_for(viewer).get(CASES, {"project": other.pk})) == ["there"]


def test_case_list_orders_on_request(viewer_api, project):
    TestCaseFactory(project=project, key="a", priority=CasePriority.LOW)
    TestCaseFactory(project=project, key="b", priority=CasePriority.CRITICAL)

    assert _keys(viewer_api.get(CASES, {"ordering": "priority"})) == ["b", "a"]


# --- Test suites ------------------------------------------------------------------------------


def test_maintainer_creates_a_suite_with_ordered_items(owner_api, project):
    first, second = TestCaseFactory.create_batch(2, project=project)
    body = {
        "project": project.pk,
        "name": "Nightly",
        "max_parallel": 2,
        "items": [{"case": second.pk}, {"case": first.pk, "skip": True}],
    }

    response = owner_api.post(SUITES, body)

    assert response.status_code == 201, response.content
    suite = TestSuite.objects.get(pk=response.json()["id"])
    rows = list(suite.items.values_list("case_id", "order", "skip"))
    assert rows == [(second.pk, 0, False), (first.pk, 1, True)]
    assert [i["case_key"] for i in response.json()["items"]] == [second.key, first.key]


def test_putting_items_replaces_all_of_them(owner_api, project):
    suite = TestSuiteFactory(project=project)
    SuiteItemFactory(suite=suite)
    newcomer = TestCaseFactory(project=project)

    response = owner_api.patch(
        f"{SUITES}{suite.pk}/", {"items": [{"case": newcomer.pk, "order": 5}]}, format="json"
    )

    assert response.status_code == 200, response.content
    suite.refresh_from_db()
    assert list(suite.items.values_list("case_id", "order")) == [(newcomer.pk, 5)]
    assert [i["case"] for i in response.json()["items"]] == [newcomer.pk]


def test_patching_a_suite_without_items_keeps_them(owner_api, project):
    suite = TestSuiteFactory(project=project)
    item = SuiteItemFactory(suite=suite)

    response = owner_api.patch(f"{SUITES}{suite.pk}/", {"fail_fast": True})

    assert response.status_code == 200, response.content
    suite.refresh_from_db()
    assert suite.fail_fast is True
    assert list(suite.items.values_list("pk", flat=True)) == [item.pk]


def test_maintainer_deletes_a_suite(owner_api, project):
    suite = TestSuiteFactory(project=project)

    response = owner_api.delete(f"{SUITES}{suite.pk}/")

    assert response.status_code == 204
    assert not TestSuite.objects.filter(pk=suite.pk).exists()


def test_suite_list_filters_by_tag(viewer_api, project):
    TestSuiteFactory(project=project, name="tagged", tags=["nightly"])
    TestSuiteFactory(project=project, name="plain")

    response = viewer_api.get(SUITES, {"tag": "nightly"})

    assert [s["name"] for s in response.json()["results"]] == ["tagged"]


def test_suite_list_searches_names(viewer_api, project):
    TestSuiteFactory(project=project, name="Checkout smoke")
    TestSuiteFactory(project=project, name="Search")

    response = viewer_api.get(SUITES, {"search": "checkout"})

    assert [s["name"] for s in response.json()["results"]] == ["Checkout smoke"]
