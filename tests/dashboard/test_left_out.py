"""Finding 2 of issue 15: a deprecated case showed a Run button whose link made the run form
quietly preselect (and run) another case. A deprecated case cannot be started from its page (a
disabled button saying why); the form names what it cannot run and preselects nothing; a suite run
that leaves out deprecated or skipped cases says so on its page, in the API and in `manage.py run`."""

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client

from executions.models import Execution
from tests.dashboard.conftest import run_all
from tests.factories import execution_for

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def selected_target(html: str) -> list[str]:
    select = html.split('id="id_target"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)"[^>]*selected', select)


def test_a_deprecated_case_has_a_disabled_run_button_that_says_why(member, deprecated_case):
    html = signed_in(member).get(f"/cases/{deprecated_case.pk}/").content.decode()

    assert re.search(r'<button type="button" disabled data-role="run"', html)
    assert "Deprecated cases cannot be run." in html
    assert f"?target=case:{deprecated_case.pk}" not in html


def test_an_active_case_links_its_run_button_to_the_form(member, case):
    html = signed_in(member).get(f"/cases/{case.pk}/").content.decode()

    assert f"?target=case:{case.pk}" in html


def test_the_form_refuses_a_link_to_a_deprecated_case_and_preselects_nothing(
    member, case, deprecated_case
):
    url = f"/projects/{case.project_id}/run/?target=case:{deprecated_case.pk}"

    html = signed_in(member).get(url).content.decode()

    assert "old-one is deprecated: deprecated cases cannot be run." in html
    assert selected_target(html) == [""]


def test_the_form_preselects_what_the_link_names(member, case):
    html = signed_in(member).get(f"/projects/{case.project_id}/run/?target=case:{case.pk}")

    assert selected_target(html.content.decode()) == [f"case:{case.pk}"]


def test_the_form_refuses_a_case_of_another_project(member, case, stranger):
    other_case = stranger.memberships.get().project.test_cases.create(key="theirs", name="t")
    url = f"/projects/{case.project_id}/run/?target=case:{other_case.pk}"

    html = signed_in(member).get(url).content.decode()

    assert "That link names no case of this project." in html
    assert selected_target(html) == [""]


@pytest.mark.parametrize("target", ["case:abc", "suite:99999999999999999999999", "case:-1", "x:1"])
def test_the_form_refuses_a_link_to_nothing_it_could_run(member, case, target):
    response = signed_in(member).get(f"/projects/{case.project_id}/run/?target={target}")

    assert response.status_code == 200
    assert "That link names no case" in response.content.decode()
    assert selected_target(response.content.decode()) == [""]


def test_posting_no_target_runs_nothing(member, case):
    response = signed_in(member).post(f"/projects/{case.project_id}/run/", {"target": ""})

    assert response.status_code == 200
    assert not Execution.objects.exists()


def test_a_suite_run_records_what_it_left_out_and_why(make_suite, case, deprecated_case, project):
    skipped = project.test_cases.create(key="not-now", name="skipped one", steps=[])
    suite = make_suite(case, deprecated_case, skipped, skipped=(skipped,))

    parent = execution_for(suite=suite)

    assert parent.children.count() == 1
    assert parent.summary["left_out"] == [
        {"case": "old-one", "why": "deprecated"},
        {"case": "not-now", "why": "skipped"},
    ]


def test_the_api_response_of_a_suite_run_says_what_it_left_out(
    member_api, make_suite, case, deprecated_case
):
    suite = make_suite(case, deprecated_case)

    response = member_api.post("/api/v1/executions/", {"test_suite": suite.pk}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["summary"]["left_out"] == [{"case": "old-one", "why": "deprecated"}]


def test_the_suite_run_page_says_what_it_left_out(member, make_suite, case, deprecated_case):
    parent = execution_for(suite=make_suite(case, deprecated_case))

    html = signed_in(member).get(f"/executions/{parent.pk}/").content.decode()

    assert "Left out of this run: old-one (deprecated)." in html


def test_manage_py_run_says_what_it_left_out(make_suite, case, deprecated_case):
    suite = make_suite(case, deprecated_case)
    out = io.StringIO()

    call_command("run", "--project", suite.project.slug, "--suite", suite.name, stdout=out)

    assert "left out of the run: old-one (deprecated)" in out.getvalue()


def test_a_suite_of_only_left_out_cases_is_refused_naming_them(
    member_api, make_suite, deprecated_case
):
    suite = make_suite(deprecated_case)

    response = member_api.post("/api/v1/executions/", {"test_suite": suite.pk}, format="json")

    assert response.status_code in (400, 409, 422)
    assert "old-one (deprecated)" in response.json()["message"]
    assert not Execution.objects.exists()


def test_a_rerun_of_a_suite_run_keeps_what_it_left_out(make_suite, case, deprecated_case):
    parent = execution_for(suite=make_suite(case, deprecated_case))
    run_all()
    call_command("rerun", str(parent.pk), stdout=io.StringIO())

    parent.refresh_from_db()
    assert parent.summary["left_out"] == [{"case": "old-one", "why": "deprecated"}]
