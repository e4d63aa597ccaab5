"""The `command` action: runner profiles run for real (a real pytest on demo/sample_tests), their
JUnit XML becomes per-test results tied to catalog cases, and nothing but a profile ever runs."""

import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from catalog.models import CaseType, RunnerProfile, TestCase
from executions.models import ExecutionStatus
from results.errors import InvalidJUnit, XMLForbidden
from results.junit import junit_cases_from_bytes
from tests.executions.local_site import process_alive, run_case
from tests.factories import TestCaseFactory

S = ExecutionStatus
pytestmark = pytest.mark.django_db
SAMPLE_KEYS = [
    "test_sample.test_addition",
    "test_sample.test_text_is_reversed",
    "test_sample.test_fails_on_purpose",
]


def make_profile(project, name="p", **fields) -> RunnerProfile:
    profile = RunnerProfile(project=project, name=name, **fields)
    profile.full_clean()
    profile.save()
    return profile


def command_case(project, profile_name, variables=None, **step):
    params = {"profile": profile_name, **({"vars": variables} if variables is not None else {})}
    return TestCaseFactory(
        project=project, steps=[{"name": "run it", "action": "command", "params": params, **step}]
    )


def python_profile(project, code: str, **fields) -> RunnerProfile:
    return make_profile(project, argv=["{{ python }}", "-c", code], **fields)


@pytest.fixture
def pytest_profile(project):
    return make_profile(
        project,
        name="sample-pytest",
        argv=[
            "{{ python }}",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--junitxml={{ output_dir }}/junit.xml",
            "{{ target }}",
        ],
        allowed_parameters={"target": ""},
        working_dir="demo/sample_tests",
        junit_xml="{{ output_dir }}/junit.xml",
        timeout_seconds=120,
    )


# --- a real pytest run ----------------------------------------------------------------------


def test_pytest_junit_becomes_one_child_result_per_test(project, pytest_profile):
    execution, (step,) = run_case(command_case(project, "sample-pytest", {"target": "."}))

    assert execution.status == S.FAILED
    assert step["status"] == "failed"
    assert step["error"]["message"].startswith(
        "1 of 3 tests failed: test_sample.test_fails_on_purpose: AssertionError: the demo failure"
    )
    assert [(c["key"], c["status"]) for c in step["children"]] == [
        (SAMPLE_KEYS[0], "passed"),
        (SAMPLE_KEYS[1], "passed"),
        (SAMPLE_KEYS[2], "failed"),
    ]
    assert step["actual"]["exit_code"] == 1
    assert step["actual"]["tests"] == {"passed": 2, "failed": 1}
    assert "1 failed, 2 passed" in step["actual"]["output_tail"]
    assert [a["name"] for a in step["attachments"]] == ["sample-pytest.log"]


def test_reported_tests_attach_to_the_same_catalog_cases_run_after_run(project, pytest_profile):
    _, (first,) = run_case(command_case(project, "sample-pytest", {"target": "."}))
    _, (second,) = run_case(command_case(project, "sample-pytest", {"target": "."}))

    cases = TestCase.objects.filter(project=project, key__in=SAMPLE_KEYS)
    assert cases.count() == 3
    assert {c.type for c in cases} == {CaseType.GENERIC}
    assert {c.status for c in cases} == {"active"}
    assert all(c.steps == [] for c in cases)
    by_key = {c.key: c.pk for c in cases}
    assert [c["case_id"] for c in first["children"]] == [by_key[k] for k in SAMPLE_KEYS]
    assert [c["case_id"] for c in second["children"]] == [c["case_id"] for c in first["children"]]


def test_a_selected_test_file_runs_only_its_tests(project, pytest_profile):
    case = command_case(project, "sample-pytest", {"target": "test_sample.py::test_addition"})
    execution, (step,) = run_case(case)

    assert execution.status == S.PASSED
    assert [c["key"] for c in step["children"]] == [SAMPLE_KEYS[0]]


def test_a_parameter_can_come_from_the_run_parameters(project, pytest_profile):
    case = command_case(project, "sample-pytest", {})
    execution, (step,) = run_case(case, parameters={"target": "test_sample.py::test_addition"})

    assert execution.status == S.PASSED, step["error"]


# --- exit codes, output, environment --------------------------------------------------------


def test_exit_code_zero_passes_and_keeps_the_output_tail(project):
    python_profile(project, "print('hello from the profile')")
    execution, (step,) = run_case(command_case(project, "p"))

    assert execution.status == S.PASSED
    assert step["actual"]["exit_code"] == 0
    assert step["actual"]["output_tail"] == "hello from the profile\n"
    assert step["attachments"] == []


def test_a_nonzero_exit_code_fails_and_attaches_the_log(project):
    python_profile(project, "import sys; print('broken'); sys.exit(3)")
    execution, (step,) = run_case(command_case(project, "p"))

    assert execution.status == S.FAILED
    assert step["error"]["message"] == "p exited with code 3"
    assert step["attachments"][0]["content_type"] == "text/plain"


def test_only_the_tail_of_a_long_output_is_kept(project):
    python_profile(project, "print('x' * 50000 + 'END')")
    _, (step,) = run_case(command_case(project, "p"))

    tail = step["actual"]["output_tail"]
    assert tail.endswith("END\n")
    assert tail.startswith("[... ")
    assert len(tail) < 9000


def test_the_worker_environment_is_not_passed_on_but_the_profile_env_is(project, monkeypatch):
    monkeypatch.setenv("IB_TEST_SECRET", "do-not-leak")
    python_profile(
        project,
        "import os; print(os.environ.get('IB_TEST_SECRET', 'absent'), os.environ['GREETING'])",
        env={"GREETING": "hi {{ who }}"},
        allowed_parameters={"who": ""},
    )
    _, (step,) = run_case(command_case(project, "p", {"who": "team"}))

    assert step["actual"]["output_tail"] == "absent hi team\n"


def test_a_command_never_runs_among_the_stored_uploads(project, settings):
    """An upload of a tester (a `conftest.py`, say) must never sit where a command runs."""
    uploads = Path(settings.MEDIA_ROOT) / "attachments"
    uploads.mkdir(parents=True)
    python_profile(project, "print('ran')", working_dir=str(uploads))

    execution, (step,) = run_case(command_case(project, "p"))

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "WorkingDirRefused"


def test_a_missing_junit_file_is_an_error(project):
    python_profile(project, "print('wrote nothing')", junit_xml="{{ output_dir }}/junit.xml")
    execution, (step,) = run_case(command_case(project, "p"))

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "JunitMissing"


# --- what may run ---------------------------------------------------------------------------


def test_an_unknown_profile_is_an_error(project, other_project):
    python_profile(other_project, "print(1)")  # another project's profile is not visible
    execution, (step,) = run_case(command_case(project, "p"))

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "UnknownProfile"
    assert "admin" in step["error"]["suggestion"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"target": "--collect-only"}, "is not an allowed value for 'target'"),
        ({"target": "a b"}, "is not an allowed value for 'target'"),
        ({"other": "x"}, "has no parameter 'other'"),
        ({}, "needs parameter 'target'"),
    ],
)
def test_parameter_values_are_checked_against_the_profile(
    project, pytest_profile, variables, message
):
    """When the run starts, whatever the case held when it was saved (the profile may have
    changed since; saving checks too, see test_command_params.py)."""
    case = command_case(project, "sample-pytest", variables)
    execution, (step,) = run_case(case, validate=False)

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "InvalidParameter"
    assert message in step["error"]["message"]


def test_a_profile_pattern_can_allow_more(project):
    make_profile(
        project,
        argv=["{{ python }}", "-c", "import sys; print(sys.argv[1])", "{{ words }}"],
        allowed_parameters={"words": "[a-z ]+"},
    )
    _, (step,) = run_case(command_case(project, "p", {"words": "two words"}))

    assert step["actual"]["output_tail"] == "two words\n"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"argv": "pytest -q"}, "non-empty list of strings"),
        ({"argv": []}, "non-empty list of strings"),
        ({"argv": ["echo", "{{ secret }}"]}, "Unknown placeholder"),
        ({"argv": ["echo"], "junit_xml": "{{ where }}/j.xml"}, "Unknown placeholder"),
        ({"argv": ["echo"], "allowed_parameters": {"x": "("}}, "not a regular expression"),
        ({"argv": ["echo"], "allowed_parameters": {"python": ""}}, "cannot be a parameter"),
        ({"argv": ["echo"], "env": {"A": 1}}, "object of strings"),
        ({"argv": ["echo"], "timeout_seconds": 0}, "Between 1 and"),
    ],
)
def test_a_profile_that_could_not_run_safely_is_refused(project, fields, message):
    with pytest.raises(ValidationError, match=message):
        RunnerProfile(project=project, name="bad", **fields).full_clean()


def test_a_step_cannot_carry_a_command_line(project):
    case = TestCaseFactory(
        project=project,
        steps=[{"action": "command", "params": {"profile": "p", "argv": ["rm", "-rf", "/"]}}],
    )
    with pytest.raises(ValidationError, match="does not know argv"):
        case.full_clean()


# --- time limits and leftovers --------------------------------------------------------------


def test_the_profile_timeout_kills_the_process_group(project, command_tmp):
    pidfile = command_tmp / "pid"
    make_profile(
        project,
        argv=["sh", "-c", 'echo $$ > "$PIDFILE"; sleep 30'],
        env={"PIDFILE": str(pidfile)},
        timeout_seconds=1,
    )
    started = time.monotonic()
    execution, (step,) = run_case(command_case(project, "p"))

    assert time.monotonic() - started < 10
    assert execution.status == S.ERROR
    assert step["error"]["type"] == "CommandTimeout"
    assert not process_alive(int(pidfile.read_text()))


def test_what_the_command_leaves_in_the_background_is_killed(project, command_tmp):
    pidfile = command_tmp / "pid"
    make_profile(
        project,
        argv=["sh", "-c", 'sleep 30 & echo $! > "$PIDFILE"'],
        env={"PIDFILE": str(pidfile)},
    )
    execution, _ = run_case(command_case(project, "p"))

    assert execution.status == S.PASSED
    assert not process_alive(int(pidfile.read_text()))


# --- reading JUnit XML ----------------------------------------------------------------------


def test_junit_statuses_durations_and_messages():
    cases = junit_cases_from_bytes(
        b"""<testsuite name="s">
        <testcase classname="pkg.Mod" name="ok" time="0.25"/>
        <testcase classname="pkg.Mod" name="bad"><failure message="boom">trace</failure></testcase>
        <testcase classname="pkg.Mod" name="broken"><error>stack only</error></testcase>
        <testcase name="bare"><skipped message="not today"/></testcase>
        </testsuite>"""
    )

    assert [(c.key, c.outcome, c.message) for c in cases] == [
        ("pkg.Mod.ok", "passed", ""),
        ("pkg.Mod.bad", "failed", "boom"),
        ("pkg.Mod.broken", "error", "stack only"),
        ("bare", "skipped", "not today"),
    ]
    assert cases[0].duration_ms == 250


def test_junit_with_entities_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<testsuite><testcase name="&b;"/></testsuite>'
    )
    with pytest.raises(XMLForbidden, match="declares a DTD or entities"):
        junit_cases_from_bytes(bomb)


def test_xml_that_is_not_junit_is_refused():
    with pytest.raises(InvalidJUnit, match="root element is <html>"):
        junit_cases_from_bytes(b"<html><body/></html>")


def test_a_malformed_junit_file_is_the_steps_error_not_the_workers(project):
    python_profile(
        project,
        "import os; open(os.environ['TMPDIR'] + '/junit.xml', 'w').write('<testsuite><testcase')",
        junit_xml="{{ output_dir }}/junit.xml",
    )
    execution, (step,) = run_case(command_case(project, "p"))

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "JunitInvalid"
    assert step["error"]["message"].startswith("junit.xml: The report is not well-formed XML")
    assert step["error"]["message"].endswith("(exit code 0)")
    assert step["actual"]["exit_code"] == 0


def test_a_junit_file_with_entities_is_the_steps_error(project):
    bomb = '<!DOCTYPE t [<!ENTITY a "a">]><testsuite><testcase name="&a;"/></testsuite>'
    python_profile(
        project,
        f"import os; open(os.environ['TMPDIR'] + '/junit.xml', 'w').write({bomb!r})",
        junit_xml="{{ output_dir }}/junit.xml",
    )
    execution, (step,) = run_case(command_case(project, "p"))

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "JunitInvalid"
    assert "DTD or entities" in step["error"]["message"]


def test_the_sample_folder_is_what_the_demo_promises():
    """demo/sample_tests has 3 tests, one failing: the demo and the tests above rely on it."""
    source = (Path(__file__).parents[2] / "demo/sample_tests/test_sample.py").read_text()
    assert source.count("\ndef test_") == 3
    assert source.count("fails_on_purpose") == 1


# --- the admin, where maintainers define profiles -------------------------------------------


@pytest.fixture
def operator_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("operator", "", "pw-op-123"))
    return client


def test_the_admin_lists_and_edits_profiles(operator_client, pytest_profile):
    listing = operator_client.get("/admin/catalog/runnerprofile/")
    change = operator_client.get(f"/admin/catalog/runnerprofile/{pytest_profile.pk}/change/")

    assert listing.status_code == 200
    assert b"sample-pytest" in listing.content
    assert change.status_code == 200


def test_the_admin_refuses_a_profile_with_an_unknown_placeholder(operator_client, project):
    response = operator_client.post(
        "/admin/catalog/runnerprofile/add/",
        {
            "project": project.pk,
            "name": "unsafe",
            "argv": '["sh", "-c", "{{ script }}"]',
            "allowed_parameters": "{}",
            "env": "{}",
            "timeout_seconds": 60,
        },
    )

    assert response.status_code == 200  # the form again, with the error
    assert b"Unknown placeholder(s) script" in response.content
    assert not RunnerProfile.objects.filter(name="unsafe").exists()
