"""What the catalog refuses, and how it says so: the services raise, the API answers 400 in the
one error shape {"code", "message", "detail"} with the message on the field that is wrong."""

import pytest
from django.core.exceptions import ValidationError

from catalog import services as catalog
from catalog.models import CaseType, Role, TestCase, TestSuite
from core.errors import Conflict
from tests.factories import ProjectFactory, TestCaseFactory, TestSuiteFactory, UserFactory

CASES = "/api/v1/test-cases/"
SUITES = "/api/v1/test-suites/"
PROJECTS = "/api/v1/projects/"

GOOD_FEATURE = """Feature: Login
  Scenario: right password
    Given a user "ann"
    When she signs in
    Then she sees her dashboard
"""


def _case_body(project, **overrides) -> dict:
    body = {
        "project": project.pk,
        "key": "login-ok",
        "name": "Login works",
        "steps": [{"action": "set", "params": {"values": {"x": 1}}}],
    }
    return body | overrides


def _field_errors(response, field: str, status: int = 400, code: str = "invalid") -> list[str]:
    """The messages for one field, after checking the error shape."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"code", "message", "detail"}
    assert body["code"] == code
    assert field in body["detail"], body
    return body["detail"][field]


# --- Steps ------------------------------------------------------------------------------------


def test_case_create_with_an_unknown_action_is_refused(project):
    steps = [{"action": "clik", "params": {}}]

    with pytest.raises(ValidationError) as caught:
        catalog.case_create(project=project, key="k", name="n", steps=steps)

    assert "unknown action 'clik'" in caught.value.message_dict["steps"][0]
    assert not TestCase.objects.filter(project=project).exists()


def test_api_names_the_unknown_action_in_a_400(owner_api, project):
    body = _case_body(project, steps=[{"action": "clik", "params": {}}])

    response = owner_api.post(CASES, body)

    messages = _field_errors(response, "steps")
    assert messages == [messages[0]]
    assert "step 1: unknown action 'clik'" in messages[0]
    assert response.json()["message"].startswith("steps: step 1: unknown action 'clik'")


def test_api_refuses_an_action_without_its_required_params(owner_api, project):
    body = _case_body(project, steps=[{"action": "assert", "params": {"equals": 1}}])

    response = owner_api.post(CASES, body)

    assert "'assert' needs 'variable'" in _field_errors(response, "steps")[0]


def test_api_refuses_a_param_of_the_wrong_type(owner_api, project):
    body = _case_body(project, steps=[{"action": "wait", "params": {"seconds": "soon"}}])

    response = owner_api.post(CASES, body)

    assert "'wait' needs 'seconds'" in _field_errors(response, "steps")[0]


def test_api_refuses_steps_that_are_not_a_list(owner_api, project):
    response = owner_api.post(CASES, _case_body(project, steps={"action": "set"}))

    assert _field_errors(response, "steps") == ["Steps must be a list."]


def test_api_refuses_params_that_are_not_an_object(owner_api, project):
    body = _case_body(project, steps=[{"action": "set", "params": ["x", 1]}])

    response = owner_api.post(CASES, body)

    assert "'params' must be an object" in _field_errors(response, "steps")[0]


def test_api_numbers_each_bad_step(owner_api, project):
    steps = [
        {"action": "set", "params": {"values": {"x": 1}}},
        {"action": "nope"},
        {"action": "wait", "params": {"seconds": -1}},
    ]

    response = owner_api.post(CASES, _case_body(project, steps=steps))

    messages = _field_errors(response, "steps")
    assert [m.split(":")[0] for m in messages] == ["step 2", "step 3"]


def test_api_refuses_a_manual_step_without_an_instruction(owner_api, project):
    body = _case_body(project, type=CaseType.MANUAL, steps=[{"expected": "a page"}])

    response = owner_api.post(CASES, body)

    assert "'instruction' is required" in _field_errors(response, "steps")[0]


# --- Other fields -----------------------------------------------------------------------------


def test_api_refuses_tags_that_are_not_a_list_of_text(owner_api, project):
    response = owner_api.post(CASES, _case_body(project, tags="smoke"))

    _field_errors(response, "tags")
    assert not TestCase.objects.exists()


def test_api_refuses_an_unknown_priority(owner_api, project):
    response = owner_api.post(CASES, _case_body(project, priority="urgent"))

    _field_errors(response, "priority")


def test_api_refuses_a_key_with_forbidden_characters(owner_api, project):
    response = owner_api.post(CASES, _case_body(project, key="-starts with a dash"))

    assert "A key starts with a letter or digit" in _field_errors(response, "key")[0]


# --- Keys -------------------------------------------------------------------------------------


def test_case_create_refuses_a_key_taken_in_the_project(project):
    TestCaseFactory(project=project, key="login")

    with pytest.raises(ValidationError) as caught:
        catalog.case_create(project=project, key="login", name="again")

    assert caught.value.message_dict == {
        "key": ["A test case with key 'login' already exists in this project."]
    }


def test_api_reports_a_taken_key_on_the_key_field(owner_api, project):
    TestCaseFactory(project=project, key="login-ok")

    response = owner_api.post(CASES, _case_body(project))

    assert _field_errors(response, "key", 409, "conflict") == [
        "A test case with key 'login-ok' already exists in this project."
    ]
    assert TestCase.objects.filter(project=project).count() == 1


def test_api_refuses_renaming_a_case_to_a_taken_key(owner_api, project):
    TestCaseFactory(project=project, key="taken")
    case = TestCaseFactory(project=project, key="mine")

    response = owner_api.patch(f"{CASES}{case.pk}/", {"key": "taken"})

    _field_errors(response, "key", 409, "conflict")
    case.refresh_from_db()
    assert case.key == "mine"


def test_the_same_key_is_free_in_another_project(owner_api, project):
    TestCaseFactory(project=ProjectFactory(), key="login-ok")

    response = owner_api.post(CASES, _case_body(project))

    assert response.status_code == 201, response.content


# --- BDD --------------------------------------------------------------------------------------


def test_api_accepts_a_bdd_case_with_valid_gherkin(owner_api, project):
    body = _case_body(project, type=CaseType.BDD, steps=[], feature=GOOD_FEATURE)

    response = owner_api.post(CASES, body)

    assert response.status_code == 201, response.content
    case = TestCase.objects.get(pk=response.json()["id"])
    assert case.feature == GOOD_FEATURE


def test_api_refuses_invalid_gherkin_on_the_feature_field(owner_api, project):
    feature = "Scenario: no feature line\n  Given a step\n"
    body = _case_body(project, type=CaseType.BDD, steps=[], feature=feature)

    response = owner_api.post(CASES, body)

    assert "Invalid Gherkin: (1:1)" in _field_errors(response, "feature")[0]


def test_api_refuses_a_bdd_case_without_a_feature(owner_api, project):
    response = owner_api.post(CASES, _case_body(project, type=CaseType.BDD, steps=[]))

    assert _field_errors(response, "feature") == ["A BDD case needs a Gherkin feature."]


def test_api_refuses_steps_on_a_bdd_case(owner_api, project):
    body = _case_body(project, type=CaseType.BDD, feature=GOOD_FEATURE)

    response = owner_api.post(CASES, body)

    _field_errors(response, "steps")


def test_api_refuses_a_type_change_that_leaves_steps_invalid(owner_api, project):
    case = TestCaseFactory(project=project)

    response = owner_api.patch(f"{CASES}{case.pk}/", {"type": CaseType.BDD})

    _field_errors(response, "steps")
    case.refresh_from_db()
    assert case.type == CaseType.GENERIC


# --- Suites -----------------------------------------------------------------------------------


def test_suite_create_refuses_a_case_of_another_project(project):
    foreign = TestCaseFactory(project=ProjectFactory(), key="elsewhere")

    with pytest.raises(ValidationError) as caught:
        catalog.suite_create(project=project, name="s", items=[{"case": foreign}])

    assert caught.value.message_dict == {
        "items": ["item 1: case 'elsewhere' belongs to another project."]
    }
    assert not TestSuite.objects.exists()


def test_api_refuses_a_suite_item_from_another_visible_project(api_for, owner, project):
    other = ProjectFactory()
    catalog.membership_set(other, user=owner, role="maintainer")
    foreign = TestCaseFactory(project=other)

    response = api_for(owner).post(
        SUITES, {"project": project.pk, "name": "s", "items": [{"case": foreign.pk}]}
    )

    assert "belongs to another project" in _field_errors(response, "items")[0]


def test_api_does_not_reveal_cases_of_projects_the_user_cannot_see(owner_api, project):
    hidden = TestCaseFactory(project=ProjectFactory())

    response = owner_api.post(
        SUITES, {"project": project.pk, "name": "s", "items": [{"case": hidden.pk}]}
    )

    assert "does not exist" in str(_field_errors(response, "items", 404, "not_found"))


def test_api_refuses_the_same_case_twice_in_a_suite(owner_api, project):
    case = TestCaseFactory(project=project)
    items = [{"case": case.pk}, {"case": case.pk}]

    response = owner_api.post(SUITES, {"project": project.pk, "name": "s", "items": items})

    assert "is already in the suite" in _field_errors(response, "items")[0]
    assert not TestSuite.objects.exists()


def test_api_reports_a_taken_suite_name_on_the_name_field(owner_api, project):
    TestSuiteFactory(project=project, name="Nightly")

    response = owner_api.post(SUITES, {"project": project.pk, "name": "Nightly"})

    assert _field_errors(response, "name", 409, "conflict") == [
        "A test suite named 'Nightly' already exists in this project."
    ]


def test_api_refuses_a_suite_without_parallelism(owner_api, project):
    response = owner_api.post(SUITES, {"project": project.pk, "name": "s", "max_parallel": 0})

    _field_errors(response, "max_parallel")


def test_suite_create_refuses_zero_parallelism_before_the_database_does(project):
    with pytest.raises(ValidationError):
        catalog.suite_create(project=project, name="s", max_parallel=0)

    assert not TestSuite.objects.exists()


def test_a_failed_items_replace_keeps_the_old_items(owner_api, project):
    kept = TestCaseFactory(project=project)
    suite = catalog.suite_create(project=project, name="s", items=[{"case": kept}])
    foreign = TestCaseFactory(project=ProjectFactory())

    with pytest.raises(ValidationError):
        catalog.suite_update(suite, name="renamed", items=[{"case": foreign}])

    suite.refresh_from_db()
    assert suite.name == "s"
    assert list(suite.items.values_list("case_id", flat=True)) == [kept.pk]


# --- Projects ---------------------------------------------------------------------------------


def test_api_refuses_a_blank_allowed_host(owner_api):
    response = owner_api.post(PROJECTS, {"name": "P", "slug": "p", "allowed_hosts": [" "]})

    _field_errors(response, "allowed_hosts")


def test_api_reports_a_taken_slug_on_the_slug_field(owner_api, project):
    response = owner_api.post(PROJECTS, {"name": "Copy", "slug": project.slug})

    _field_errors(response, "slug", 409, "conflict")


def test_project_create_refuses_a_taken_slug(project):
    with pytest.raises(ValidationError) as caught:
        catalog.project_create(name="Copy", slug=project.slug)

    assert list(caught.value.message_dict) == ["slug"]


def test_a_patch_with_an_item_that_names_no_case_is_a_400(owner_api, project):
    suite = TestSuiteFactory(project=project)

    response = owner_api.patch(f"{SUITES}{suite.pk}/", {"items": [{"order": 0}]})

    assert _field_errors(response, "items") == {"0": {"case": ["This field is required."]}}


# --- Memberships --------------------------------------------------------------------------------


def test_memberships_apply_hands_the_maintainer_role_over_in_one_call(project, owner, member):
    catalog.memberships_apply(project, {owner.pk: Role.VIEWER, member.pk: Role.MAINTAINER})

    roles = dict(project.memberships.values_list("user_id", "role"))
    assert roles == {owner.pk: Role.VIEWER, member.pk: Role.MAINTAINER}


def test_memberships_apply_refuses_to_leave_no_maintainer_and_writes_nothing(
    project, owner, member
):
    with pytest.raises(Conflict) as refused:
        catalog.memberships_apply(project, {owner.pk: None, member.pk: Role.VIEWER})

    assert refused.value.code == "last_maintainer"
    roles = dict(project.memberships.values_list("user_id", "role"))
    assert roles == {owner.pk: Role.MAINTAINER, member.pk: Role.TESTER}


def test_memberships_apply_refuses_an_unknown_role(project, owner):
    newcomer = UserFactory()

    with pytest.raises(ValidationError):
        catalog.memberships_apply(project, {newcomer.pk: "owner"})

    assert not project.memberships.filter(user=newcomer).exists()


def test_a_project_without_maintainers_may_lose_other_members(project, member):
    catalog.memberships_apply(project, {member.pk: None})

    assert not project.memberships.exists()


def test_memberships_check_lets_the_last_maintainer_stay_maintainer(project, owner):
    catalog.memberships_check(project, {owner.pk: Role.MAINTAINER})  # raises nothing

    with pytest.raises(Conflict):
        catalog.memberships_check(project, {owner.pk: Role.TESTER})
