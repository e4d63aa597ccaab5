"""A test that a command step reported and the same test uploaded later are one catalog case with
one history, whatever its name holds (issue 13: the two paths used to key `test_create[priority=
high]` differently, and the command's key was one the catalog refuses).

The command path is the real `command` action running a real pytest; the upload is the real API
endpoint given the very file that pytest wrote."""

import re

import pytest

from catalog.models import RunnerProfile, TestCase
from executions.models import ExecutionStatus
from results.junit import case_key
from tests.executions.local_site import run_case
from tests.factories import TestCaseFactory

S = ExecutionStatus
pytestmark = pytest.mark.django_db
URL = "/api/v1/imports/junit/"
LONG_ID = "v" * 300

TESTS = f'''import pytest


@pytest.mark.parametrize("priority", ["high"], ids=["priority=high"])
def test_create(priority):
    pass


@pytest.mark.parametrize("path", ["a/b"], ids=["a/b"])
def test_x(path):
    pass


def test_größe():
    pass


@pytest.mark.parametrize("word", ["ünï"], ids=["ünï"])
def test_escaped(word):
    pass


@pytest.mark.parametrize("n", [1], ids=["{LONG_ID}"])
def test_long(n):
    assert n == 2
'''
# What pytest names them (it writes non-ASCII ids escaped, function names as they are).
NAMES = [
    "test_create[priority=high]",
    "test_x[a/b]",
    "test_größe",
    "test_escaped[\\xfcn\\xef]",
    f"test_long[{LONG_ID}]",
]


@pytest.fixture
def reported(project, command_tmp):
    """A runner profile that runs pytest on TESTS and leaves its JUnit XML where the test can
    upload it afterwards (a step's own output folder is removed with the step)."""
    (command_tmp / "test_params.py").write_text(TESTS)
    report = command_tmp / "report.xml"
    profile = RunnerProfile(
        project=project,
        name="params",
        argv=[
            "{{ python }}",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
        ],
        working_dir=str(command_tmp),
        junit_xml=str(report),
        timeout_seconds=120,
    )
    profile.full_clean()
    profile.save()
    return report


def run_params(project):
    case = TestCaseFactory(
        project=project,
        steps=[{"name": "pytest", "action": "command", "params": {"profile": "params"}}],
    )
    execution, (step,) = run_case(case)
    assert execution.status == S.FAILED, step["error"]  # test_long fails on purpose
    return step


def upload(api, project, report, revision):
    response = api.post(
        f"{URL}?project={project.pk}&revision={revision}",
        data=report.read_bytes(),
        content_type="application/xml",
        HTTP_IDEMPOTENCY_KEY=f"upload-{revision}",  # the same bytes again are a new report here
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_the_command_reports_every_name_with_the_keys_of_the_one_case_key(project, reported):
    step = run_params(project)

    assert [c["name"] for c in step["children"]] == NAMES
    assert [c["key"] for c in step["children"]] == [case_key("test_params", n) for n in NAMES]
    assert step["children"][-1]["status"] == "failed"


def test_every_reported_key_passes_the_catalog_validator(project, reported):
    step = run_params(project)

    cases = TestCase.objects.filter(pk__in=[c["case_id"] for c in step["children"]])
    assert cases.count() == len(NAMES)
    for case in cases:
        case.full_clean()  # raises ValidationError for a key the catalog refuses


def test_a_command_reported_test_uploaded_later_is_the_same_case(project, reported, member_api):
    step = run_params(project)
    cases_before = TestCase.objects.filter(project=project).count()

    batch = upload(member_api, project, reported, "r1")

    assert batch["new_cases"] == 0
    assert TestCase.objects.filter(project=project).count() == cases_before
    by_key = {c["key"]: c["case_id"] for c in step["children"]}
    uploaded = dict(TestCase.objects.filter(results__batch_id=batch["id"]).values_list("key", "id"))
    assert uploaded == by_key


def test_uploads_and_command_runs_of_a_test_share_one_history(
    project, reported, member_api, viewer_api
):
    step = run_params(project)  # also writes the report the uploads send
    upload(member_api, project, reported, "r1")
    upload(member_api, project, reported, "r2")
    again = run_params(project)

    assert [c["case_id"] for c in again["children"]] == [c["case_id"] for c in step["children"]]
    for child in again["children"]:
        history = viewer_api.get(f"/api/v1/analytics/cases/{child['case_id']}/history/").json()
        assert [r["revision"] for r in history["results"]] == ["r2", "r1"], child["name"]


def test_the_execution_page_lists_the_tests_a_command_step_reported(
    client, owner, project, reported
):
    """Issue 15, "also found": a command step that produced JUnit results showed as one step.
    Its reported tests are listed under it: name (a link to the case), outcome, time, and the
    failure's first line."""
    step = run_params(project)
    execution_id = project.executions.latest("id").pk
    client.force_login(owner)
    html = client.get(f"/executions/{execution_id}/").content.decode()

    listed = re.search(r'<table data-role="reported-tests">.*?</table>', html, re.S)[0]
    assert listed.count("data-test-status=") == len(NAMES)
    assert listed.count('data-test-status="passed"') == 4
    assert 'data-test-status="failed"' in listed and "assert 1 == 2" in listed
    for child in step["children"]:
        assert f'href="/cases/{child["case_id"]}/"' in listed
    assert "5 reported tests" in html
