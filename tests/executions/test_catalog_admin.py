"""The catalog admin: pages render, saves go through the services, invalid input is an error on
the page instead of a saved object."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from catalog.models import CaseType, Membership, Project, Role, TestCase, TestSuite
from catalog.services import suite_items_replace
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    SuiteItemFactory,
    TestCaseFactory,
    TestSuiteFactory,
    UserFactory,
)

MODELS = ["project", "membership", "testcase", "testsuite"]


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def catalog(project, owner):
    case = TestCaseFactory(project=project, tags=["smoke"])
    suite = TestSuiteFactory(project=project)
    SuiteItemFactory(suite=suite, case=case)
    membership = Membership.objects.get(project=project, user=owner)
    return {"project": project, "membership": membership, "testcase": case, "testsuite": suite}


def _case_form(case: TestCase, **overrides) -> dict:
    data = {
        "key": case.key,
        "name": case.name,
        "type": case.type,
        "status": case.status,
        "priority": case.priority,
        "tags": json.dumps(case.tags),
        "description": case.description,
        "preconditions": case.preconditions,
        "steps": json.dumps(case.steps),
        "feature": case.feature,
    }
    return data | overrides


def _inline(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    """POST data of an inline formset: the management form plus one dict per row."""
    data = {
        f"{prefix}-TOTAL_FORMS": len(rows),
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }
    for i, row in enumerate(rows):
        data |= {f"{prefix}-{i}-{name}": value for name, value in row.items()}
    return data


# --- Pages render -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders(admin_client, catalog, model):
    response = admin_client.get(f"/admin/catalog/{model}/")

    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_add_page_renders(admin_client, db, model):
    response = admin_client.get(f"/admin/catalog/{model}/add/")

    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_change_page_renders(admin_client, catalog, model):
    response = admin_client.get(f"/admin/catalog/{model}/{catalog[model].pk}/change/")

    assert response.status_code == 200


def test_changelist_search_finds_cases_by_tag(admin_client, catalog):
    response = admin_client.get("/admin/catalog/testcase/", {"q": "smoke"})

    assert list(response.context["cl"].result_list) == [catalog["testcase"]]


def test_project_changelist_counts_members_cases_and_suites(admin_client, catalog):
    response = admin_client.get("/admin/catalog/project/")

    row = response.context["cl"].result_list[0]
    assert (row.member_count, row.case_count, row.suite_count) == (1, 1, 1)


def test_case_change_page_shows_steps_as_indented_json(admin_client, catalog):
    case = catalog["testcase"]

    response = admin_client.get(f"/admin/catalog/testcase/{case.pk}/change/")

    shown = response.context["adminform"].form["steps"].value()
    assert shown.startswith('[\n  {\n    "')  # jsonb (PostgreSQL) may reorder the keys
    assert json.loads(shown) == case.steps


# --- Saves ------------------------------------------------------------------------------------


def test_adding_a_case_records_the_operator_as_its_author(admin_client, operator, project):
    draft = TestCase(
        key="new-case", name="New", steps=[{"action": "wait", "params": {"seconds": 0}}]
    )
    data = _case_form(draft, project=project.pk, type=CaseType.GENERIC, status="active", priority=3)

    response = admin_client.post("/admin/catalog/testcase/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    case = TestCase.objects.get(key="new-case")
    assert (case.project, case.created_by) == (project, operator)


def test_invalid_steps_are_shown_as_an_error_and_not_saved(admin_client, catalog):
    case = catalog["testcase"]
    data = _case_form(case, name="Renamed", steps=json.dumps([{"action": "clik"}]))

    response = admin_client.post(f"/admin/catalog/testcase/{case.pk}/change/", data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "unknown action 'clik'" in errors["steps"][0]
    case.refresh_from_db()
    assert case.name != "Renamed"


def test_invalid_gherkin_is_shown_as_an_error_and_not_saved(admin_client, catalog):
    case = catalog["testcase"]
    data = _case_form(case, type=CaseType.BDD, steps="[]", feature="Scenario: s\n  Given x\n")

    response = admin_client.post(f"/admin/catalog/testcase/{case.pk}/change/", data)

    assert "Invalid Gherkin" in response.context["adminform"].form.errors["feature"][0]
    case.refresh_from_db()
    assert case.type == CaseType.GENERIC


def test_a_taken_key_is_shown_as_an_error_and_not_saved(admin_client, catalog):
    case = catalog["testcase"]
    TestCaseFactory(project=case.project, key="taken")

    response = admin_client.post(
        f"/admin/catalog/testcase/{case.pk}/change/", _case_form(case, key="taken")
    )

    assert response.context["adminform"].form.errors == {
        "key": ["A test case with key 'taken' already exists in this project."]
    }
    case.refresh_from_db()
    assert case.key != "taken"


def test_adding_a_suite_saves_its_items(admin_client, project):
    case = TestCaseFactory(project=project)
    data = {"project": project.pk, "name": "Smoke", "tags": "[]", "max_parallel": 1}
    data |= _inline("items", [{"case": case.pk, "order": 0}])

    response = admin_client.post("/admin/catalog/testsuite/add/", data)

    assert response.status_code == 302
    suite = TestSuite.objects.get(name="Smoke")
    assert list(suite.items.values_list("case_id", flat=True)) == [case.pk]


def test_a_suite_item_from_another_project_is_an_error(admin_client, project):
    foreign = TestCaseFactory(project=ProjectFactory())
    data = {"project": project.pk, "name": "Smoke", "tags": "[]", "max_parallel": 1}
    data |= _inline("items", [{"case": foreign.pk, "order": 0}])

    response = admin_client.post("/admin/catalog/testsuite/add/", data)

    assert response.status_code == 200
    assert not TestSuite.objects.filter(name="Smoke").exists()


def test_adding_a_project_saves_its_members(admin_client, db):
    user = UserFactory()
    data = {"name": "Shop", "slug": "shop", "allowed_hosts": "[]", "retention_days": 90}
    data |= _inline("memberships", [{"user": user.pk, "role": Role.MAINTAINER}])

    response = admin_client.post("/admin/catalog/project/add/", data)

    assert response.status_code == 302
    project = Project.objects.get(slug="shop")
    assert list(project.memberships.values_list("user_id", "role")) == [(user.pk, "maintainer")]


def test_demoting_the_last_maintainer_inline_is_an_error(admin_client, catalog, owner):
    project, membership = catalog["project"], catalog["membership"]
    data = {"name": project.name, "slug": project.slug, "allowed_hosts": "[]"}
    data |= {"retention_days": project.retention_days}
    row = {"id": membership.pk, "project": project.pk, "user": owner.pk, "role": Role.VIEWER}
    data |= _inline("memberships", [row], initial=1)

    response = admin_client.post(f"/admin/catalog/project/{project.pk}/change/", data)

    assert response.status_code == 200
    membership.refresh_from_db()
    assert membership.role == Role.MAINTAINER


def test_demoting_the_last_maintainer_is_an_error(admin_client, catalog):
    membership = catalog["membership"]

    response = admin_client.post(
        f"/admin/catalog/membership/{membership.pk}/change/", {"role": Role.VIEWER}
    )

    assert response.status_code == 200
    assert "at least one maintainer" in str(response.context["adminform"].form.errors)
    membership.refresh_from_db()
    assert membership.role == Role.MAINTAINER


def test_changing_a_role_goes_through(admin_client, project):
    MembershipFactory(project=project, role=Role.MAINTAINER)
    membership = MembershipFactory(project=project, role=Role.VIEWER)

    response = admin_client.post(
        f"/admin/catalog/membership/{membership.pk}/change/", {"role": Role.TESTER}
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.TESTER


def test_the_last_maintainer_cannot_be_deleted(admin_client, catalog):
    membership = catalog["membership"]

    response = admin_client.post(
        f"/admin/catalog/membership/{membership.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_deleting_a_project_through_the_admin_removes_it(admin_client, catalog):
    project = catalog["project"]

    response = admin_client.post(f"/admin/catalog/project/{project.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Project.objects.filter(pk=project.pk).exists()


def test_a_taken_key_on_the_add_page_is_shown_on_the_key_field(admin_client, catalog):
    taken = catalog["testcase"]
    data = _case_form(taken, project=taken.project_id)

    response = admin_client.post("/admin/catalog/testcase/add/", data)

    errors = response.context["adminform"].form.errors
    assert errors == {
        "key": [f"A test case with key {taken.key!r} already exists in this project."]
    }
    assert TestCase.objects.filter(key=taken.key).count() == 1


# --- Inlines write through the services ---------------------------------------------------------


def _project_form(project: Project, rows: list[dict], initial: int) -> dict:
    data = {"name": project.name, "slug": project.slug, "allowed_hosts": "[]"}
    data |= {"retention_days": project.retention_days}
    return data | _inline("memberships", rows, initial=initial)


def _member_row(membership: Membership, **changes) -> dict:
    row = {"id": membership.pk, "project": membership.project_id, "user": membership.user_id}
    return row | {"role": membership.role} | changes


def _suite_form(suite: TestSuite, rows: list[dict], initial: int) -> dict:
    data = {"name": suite.name, "tags": "[]", "max_parallel": suite.max_parallel}
    return data | _inline("items", rows, initial=initial)


def _item_row(item, **changes) -> dict:
    row = {"id": item.pk, "suite": item.suite_id, "case": item.case_id, "order": item.order}
    return row | changes


def _inline_errors(response) -> str:
    """Every error the page's inlines show: the rows' and the formsets' own."""
    formsets = [inline.formset for inline in response.context["inline_admin_formsets"]]
    return str([(f.errors, f.non_form_errors()) for f in formsets])


def test_adding_a_member_through_the_project_inline(admin_client, catalog):
    project, membership = catalog["project"], catalog["membership"]
    newcomer = UserFactory()
    rows = [_member_row(membership), {"user": newcomer.pk, "role": Role.TESTER}]

    response = admin_client.post(
        f"/admin/catalog/project/{project.pk}/change/", _project_form(project, rows, initial=1)
    )

    assert response.status_code == 302
    roles = dict(project.memberships.values_list("user_id", "role"))
    assert roles == {membership.user_id: Role.MAINTAINER, newcomer.pk: Role.TESTER}


def test_demoting_the_last_maintainer_inline_shows_why_and_writes_nothing(admin_client, catalog):
    project, membership = catalog["project"], catalog["membership"]
    viewer = MembershipFactory(project=project, role=Role.VIEWER)
    rows = [
        _member_row(membership, role=Role.TESTER),
        _member_row(viewer, role=Role.TESTER),
    ]

    response = admin_client.post(
        f"/admin/catalog/project/{project.pk}/change/", _project_form(project, rows, initial=2)
    )

    assert response.status_code == 200
    assert "A project needs at least one maintainer" in _inline_errors(response)
    roles = dict(project.memberships.values_list("user_id", "role"))
    assert roles == {membership.user_id: Role.MAINTAINER, viewer.user_id: Role.VIEWER}


def test_removing_the_last_maintainer_inline_is_refused(admin_client, catalog):
    project, membership = catalog["project"], catalog["membership"]
    rows = [_member_row(membership, DELETE="on")]

    response = admin_client.post(
        f"/admin/catalog/project/{project.pk}/change/", _project_form(project, rows, initial=1)
    )

    assert response.status_code == 200
    assert "at least one maintainer" in _inline_errors(response)
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_handing_the_maintainer_role_over_in_one_save_goes_through(admin_client, catalog):
    # Each half alone would leave the project without a maintainer for a moment; the inline is
    # judged as a whole, as the operator meant it.
    project, membership = catalog["project"], catalog["membership"]
    successor = MembershipFactory(project=project, role=Role.TESTER)
    rows = [
        _member_row(membership, role=Role.VIEWER),
        _member_row(successor, role=Role.MAINTAINER),
    ]

    response = admin_client.post(
        f"/admin/catalog/project/{project.pk}/change/", _project_form(project, rows, initial=2)
    )

    assert response.status_code == 302
    roles = dict(project.memberships.values_list("user_id", "role"))
    assert roles == {membership.user_id: Role.VIEWER, successor.user_id: Role.MAINTAINER}


def test_moving_an_inline_row_to_another_user_replaces_the_member(admin_client, catalog):
    project, membership = catalog["project"], catalog["membership"]
    tester = MembershipFactory(project=project, role=Role.TESTER)
    newcomer = UserFactory()
    rows = [_member_row(membership), _member_row(tester, user=newcomer.pk)]

    response = admin_client.post(
        f"/admin/catalog/project/{project.pk}/change/", _project_form(project, rows, initial=2)
    )

    assert response.status_code == 302
    roles = dict(project.memberships.values_list("user_id", "role"))
    assert roles == {membership.user_id: Role.MAINTAINER, newcomer.pk: Role.TESTER}


def test_an_inline_member_change_is_in_the_objects_history(admin_client, catalog):
    project, membership = catalog["project"], catalog["membership"]
    rows = [_member_row(membership), {"user": UserFactory().pk, "role": Role.VIEWER}]

    admin_client.post(
        f"/admin/catalog/project/{project.pk}/change/", _project_form(project, rows, initial=1)
    )

    history = admin_client.get(f"/admin/catalog/project/{project.pk}/history/")
    assert "Added membership" in history.content.decode()


def test_adding_the_same_case_twice_through_the_inline_is_refused(admin_client, catalog):
    suite, case = catalog["testsuite"], catalog["testcase"]
    item = suite.items.get()
    rows = [_item_row(item), {"case": case.pk, "order": 1}]

    response = admin_client.post(
        f"/admin/catalog/testsuite/{suite.pk}/change/", _suite_form(suite, rows, initial=1)
    )

    assert response.status_code == 200
    assert f"Case {case.key!r} is already in the suite." in _inline_errors(response)
    assert list(suite.items.values_list("pk", "case_id")) == [(item.pk, case.pk)]


def test_two_new_rows_with_one_case_on_the_add_page_are_refused(admin_client, project):
    case = TestCaseFactory(project=project)
    data = {"project": project.pk, "name": "Twice", "tags": "[]", "max_parallel": 1}
    data |= _inline("items", [{"case": case.pk, "order": 0}, {"case": case.pk, "order": 1}])

    response = admin_client.post("/admin/catalog/testsuite/add/", data)

    assert response.status_code == 200
    assert "is already in the suite" in _inline_errors(response)
    assert not TestSuite.objects.filter(name="Twice").exists()


def test_a_case_of_another_project_is_refused_on_the_change_page(admin_client, catalog):
    suite = catalog["testsuite"]
    item = suite.items.get()
    foreign = TestCaseFactory(project=ProjectFactory())
    rows = [_item_row(item), {"case": foreign.pk, "order": 1}]

    response = admin_client.post(
        f"/admin/catalog/testsuite/{suite.pk}/change/", _suite_form(suite, rows, initial=1)
    )

    assert response.status_code == 200
    assert "belongs to another project" in _inline_errors(response)
    assert list(suite.items.values_list("case_id", flat=True)) == [item.case_id]


def test_a_case_of_another_project_on_the_add_page_is_shown_on_its_row(admin_client, project):
    foreign = TestCaseFactory(project=ProjectFactory(), key="elsewhere")
    data = {"project": project.pk, "name": "Smoke", "tags": "[]", "max_parallel": 1}
    data |= _inline("items", [{"case": foreign.pk, "order": 0}])

    response = admin_client.post("/admin/catalog/testsuite/add/", data)

    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors == [{"case": ["Case 'elsewhere' belongs to another project."]}]


def test_a_case_moved_from_a_deleted_row_to_a_new_one_is_kept(admin_client, catalog):
    suite, case = catalog["testsuite"], catalog["testcase"]
    item = suite.items.get()
    rows = [_item_row(item, DELETE="on"), {"case": case.pk, "order": 5, "skip": "on"}]

    response = admin_client.post(
        f"/admin/catalog/testsuite/{suite.pk}/change/", _suite_form(suite, rows, initial=1)
    )

    assert response.status_code == 302
    assert list(suite.items.values_list("case_id", "order", "skip")) == [(case.pk, 5, True)]


def test_saving_a_suite_without_touching_its_items_keeps_them(admin_client, catalog):
    suite = catalog["testsuite"]
    item = suite.items.get()
    data = _suite_form(suite, [_item_row(item)], initial=1) | {"name": "Renamed"}

    response = admin_client.post(f"/admin/catalog/testsuite/{suite.pk}/change/", data)

    assert response.status_code == 302
    suite.refresh_from_db()
    assert suite.name == "Renamed"
    assert list(suite.items.values_list("pk", flat=True)) == [item.pk]


def test_the_bulk_delete_action_deletes_through_the_service(admin_client, project):
    cases = [TestCaseFactory(project=project), TestCaseFactory(project=project)]
    data = {"action": "delete_selected", "post": "yes", "_selected_action": [c.pk for c in cases]}

    response = admin_client.post("/admin/catalog/testcase/", data)

    assert response.status_code == 302
    assert not TestCase.objects.filter(pk__in=[c.pk for c in cases]).exists()


def test_a_new_inline_row_ticked_for_deletion_adds_nobody(admin_client, catalog):
    project, membership = catalog["project"], catalog["membership"]
    rows = [
        _member_row(membership),
        {"user": UserFactory().pk, "role": Role.TESTER, "DELETE": "on"},
    ]

    response = admin_client.post(
        f"/admin/catalog/project/{project.pk}/change/", _project_form(project, rows, initial=1)
    )

    assert response.status_code == 302
    assert list(project.memberships.values_list("user_id", flat=True)) == [membership.user_id]
    history = admin_client.get(f"/admin/catalog/project/{project.pk}/history/")
    assert "Deleted membership" not in history.content.decode()  # it never existed


def test_an_operator_who_may_only_view_suite_items_saves_the_suite(catalog):
    """The admin shows such an operator the items read-only; saving the suite used to fail with
    a 500 (the items' check read the case ids the admin hands in for rows nobody may edit)."""
    suite = catalog["testsuite"]
    item = suite.items.get()
    operator = UserFactory(is_staff=True)
    operator.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="catalog",
            codename__in=["view_testsuite", "change_testsuite", "view_suiteitem"],
        )
    )
    client = Client()
    client.force_login(operator)
    data = _suite_form(suite, [_item_row(item)], initial=1) | {"name": "Renamed"}

    response = client.post(f"/admin/catalog/testsuite/{suite.pk}/change/", data)

    assert response.status_code == 302
    suite.refresh_from_db()
    assert suite.name == "Renamed"
    assert list(suite.items.values_list("pk", "case_id")) == [(item.pk, item.case_id)]


def test_a_second_tab_saves_after_the_first_reordered_and_added_items(admin_client, catalog):
    """Two operators on one suite: the first adds a case and reorders; the second, whose page
    was opened before, renames the suite. The items keep their ids, so the second page still
    names rows that exist and saves (it used to fail with no visible error)."""
    suite = catalog["testsuite"]
    item = suite.items.get()
    stale_page = _suite_form(suite, [_item_row(item)], initial=1) | {"name": "Second tab"}
    other = TestCaseFactory(project=suite.project)
    suite_items_replace(suite, [{"case": other, "order": 0}, {"case": item.case, "order": 1}])

    response = admin_client.post(f"/admin/catalog/testsuite/{suite.pk}/change/", stale_page)

    assert response.status_code == 302, _inline_errors(response)
    suite.refresh_from_db()
    assert suite.name == "Second tab"
    assert suite.items.get(case=item.case).pk == item.pk  # changed in place, not re-created
    assert suite.items.filter(case=other).exists()  # the first tab's addition is kept


def test_a_second_tab_adding_a_case_the_first_already_added_is_told_so(admin_client, catalog):
    suite = catalog["testsuite"]
    item = suite.items.get()
    other = TestCaseFactory(project=suite.project)
    stale_page = _suite_form(
        suite, [_item_row(item), {"suite": suite.pk, "case": other.pk, "order": 5}], initial=1
    )
    suite_items_replace(suite, [{"case": item.case, "order": 0}, {"case": other, "order": 1}])

    response = admin_client.post(f"/admin/catalog/testsuite/{suite.pk}/change/", stale_page)

    assert response.status_code == 200
    assert "already in the suite" in _inline_errors(response)
    assert suite.items.count() == 2
