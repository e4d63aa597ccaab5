"""Runner-profile parameters stay inside the profile's working directory (security finding 2).

A step's `target` pointing at a Python file outside the working directory (an upload, /tmp) ran
it under pytest. Such a value is refused when the case is saved (model, API, admin) and again
when the run starts (run parameters, a profile changed since), and then nothing runs. A profile
may declare a parameter unconfined: {"name": {"pattern": "...", "unconfined": true}}.
"""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from catalog.models import CaseType, RunnerProfile
from executions.models import ExecutionStatus
from intellibrowse.management.commands.load_demo import SAMPLE_PROFILE
from tests.executions.local_site import run_case
from tests.factories import TestCaseFactory, UserFactory

S = ExecutionStatus
pytestmark = pytest.mark.django_db
SAMPLE_PYTEST = SAMPLE_PROFILE["argv"]  # the demo's own pytest profile


@pytest.fixture
def sample_pytest(project):
    """The demo's profile, as load_demo defines it."""
    profile = RunnerProfile(
        project=project,
        name="sample-pytest",
        argv=SAMPLE_PYTEST,
        allowed_parameters={"target": ""},
        working_dir="demo/sample_tests",
        junit_xml="{{ output_dir }}/junit.xml",
        timeout_seconds=120,
    )
    profile.full_clean()
    profile.save()
    return profile


@pytest.fixture
def planted(command_tmp):
    """A test file outside the working directory that leaves a mark if pytest ever runs it (what
    an attacker's uploaded `.py` did), and where the mark would be."""
    mark = command_tmp / "it-ran"
    script = command_tmp / "test_planted.py"
    script.write_text(f"def test_planted():\n    open({str(mark)!r}, 'w').write('ran')\n")
    return script, mark


def pytest_step(target: str) -> dict:
    return {"action": "command", "params": {"profile": "sample-pytest", "vars": {"target": target}}}


REFUSED = [
    ("/etc/passwd", "absolute paths are not allowed"),
    ("../../../etc/passwd", "'..' is not allowed"),
    ("tests/../../x.py", "'..' is not allowed"),
    ("~root/x.py", "may not start with '~'"),
    ("x=/etc/passwd", "absolute paths are not allowed ('/etc/passwd')"),
    ("a,../b", "'..' is not allowed"),
]


# --- when the case is saved -----------------------------------------------------------------


@pytest.mark.parametrize(("value", "message"), REFUSED)
def test_a_step_value_outside_the_working_dir_is_refused_on_save(
    project, sample_pytest, value, message
):
    """Whatever the pattern lets through: here any text without spaces."""
    sample_pytest.allowed_parameters = {"target": r"\S+"}
    sample_pytest.save()
    case = TestCaseFactory(project=project, steps=[pytest_step(value)])

    with pytest.raises(ValidationError) as refused:
        case.full_clean()

    (text,) = refused.value.message_dict["steps"]
    assert text.startswith(f"step 1: {value!r} is refused for 'target': ")
    assert message in text


def test_a_link_in_the_working_dir_that_leads_outside_is_refused(project, tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "out").symlink_to("/etc")
    RunnerProfile.objects.create(
        project=project,
        name="sample-pytest",
        argv=SAMPLE_PYTEST,
        allowed_parameters={"target": ""},
        working_dir=str(tmp_path / "work"),
    )
    case = TestCaseFactory(project=project, steps=[pytest_step("out/passwd")])

    with pytest.raises(ValidationError, match="leads outside the profile's working directory"):
        case.full_clean()


def test_values_inside_the_working_dir_and_variables_pass_on_save(project, sample_pytest):
    case = TestCaseFactory(
        project=project,
        steps=[
            pytest_step("."),
            pytest_step("test_sample.py::test_addition"),
            pytest_step("{{ t }}"),
        ],
    )
    case.full_clean()  # a {{ variable }} is only known when the run starts: checked then


def test_the_api_answers_400_for_a_value_outside_the_working_dir(owner_api, project, sample_pytest):
    body = {
        "project": project.pk,
        "key": "evil",
        "name": "Evil",
        "steps": [pytest_step("/tmp/x.py")],
    }

    response = owner_api.post("/api/v1/test-cases/", body, format="json")

    assert response.status_code == 400, response.content
    assert "'/tmp/x.py' is refused for 'target'" in json.dumps(response.json())


def test_the_admin_shows_a_value_outside_the_working_dir_as_a_form_error(project, sample_pytest):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = {
        "project": project.pk,
        "key": "evil",
        "name": "Evil",
        "type": CaseType.GENERIC,
        "status": "active",
        "priority": 3,
        "tags": "[]",
        "steps": json.dumps([pytest_step("../../../../tmp/x.py")]),
    }

    response = client.post("/admin/catalog/testcase/add/", form)

    assert response.status_code == 200  # the form again, with the error
    assert "&#x27;..&#x27; is not allowed in a path" in response.content.decode()
    assert not project.test_cases.filter(key="evil").exists()


# --- when the run starts --------------------------------------------------------------------


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_a_run_parameter_pointing_at_a_planted_file_runs_nothing(
    project, sample_pytest, planted, how
):
    script, mark = planted
    target = str(script) if how == "absolute" else "../" * 12 + str(script).lstrip("/")
    case = TestCaseFactory(project=project, steps=[pytest_step("{{ target }}")])

    execution, (step,) = run_case(case, parameters={"target": target})

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "InvalidParameter"
    assert "is refused for 'target'" in step["error"]["message"]
    assert "argv" not in (step["actual"] or {})  # no process was started
    assert not mark.exists()


def test_a_step_saved_before_the_profile_was_tightened_runs_nothing(project, planted):
    script, mark = planted
    profile = RunnerProfile.objects.create(
        project=project,
        name="sample-pytest",
        argv=SAMPLE_PYTEST,
        allowed_parameters={"target": {"pattern": "", "unconfined": True}},
        working_dir="demo/sample_tests",
    )
    case = TestCaseFactory(project=project, steps=[pytest_step(str(script))])
    case.full_clean()  # fine while the parameter was unconfined
    profile.allowed_parameters = {"target": ""}
    profile.save()

    execution, (step,) = run_case(case, validate=False)

    assert (execution.status, step["error"]["type"]) == (S.ERROR, "InvalidParameter")
    assert not mark.exists()


def test_confined_values_cannot_meet_into_a_parent_path(project, command_tmp):
    """ "{{ a }}{{ b }}" with "." and "." is "..": the joined text is judged too."""
    RunnerProfile.objects.create(
        project=project,
        name="joined",
        argv=["sh", "-c", 'ls "$1" > /dev/null && touch ran', "sh", "{{ a }}{{ b }}"],
        allowed_parameters={"a": "", "b": ""},
        working_dir=str(command_tmp),
    )
    case = TestCaseFactory(
        project=project,
        steps=[
            {"action": "command", "params": {"profile": "joined", "vars": {"a": ".", "b": "."}}}
        ],
    )

    _, (step,) = run_case(case)

    assert step["error"]["type"] == "InvalidParameter"
    assert "'..' is refused for '{{ a }}{{ b }}'" in step["error"]["message"]
    assert not (command_tmp / "ran").exists()


# --- an unconfined parameter ----------------------------------------------------------------


def test_an_unconfined_parameter_takes_an_absolute_value(project, command_tmp):
    (command_tmp / "note.txt").write_text("outside the working dir\n")
    profile = RunnerProfile(
        project=project,
        name="cat",
        argv=["cat", "{{ file }}"],
        allowed_parameters={"file": {"pattern": "/[a-z0-9/._-]+", "unconfined": True}},
    )
    profile.full_clean()
    profile.save()
    step = {"action": "command", "params": {"profile": "cat", "vars": {"file": "{{ f }}"}}}
    case = TestCaseFactory(project=project, steps=[step])

    execution, (result,) = run_case(case, parameters={"f": str(command_tmp / "note.txt")})

    assert execution.status == S.PASSED, result["error"]
    assert result["actual"]["output_tail"] == "outside the working dir\n"


def test_the_unconfined_pattern_still_applies(project, sample_pytest):
    sample_pytest.allowed_parameters = {"target": {"pattern": "[a-z_.]+", "unconfined": True}}
    sample_pytest.save()
    case = TestCaseFactory(project=project, steps=[pytest_step("/etc/passwd")])

    with pytest.raises(ValidationError, match="is not an allowed value for 'target'"):
        case.full_clean()


@pytest.mark.parametrize(
    "spec",
    [
        {"pattern": "", "unconfined": "yes"},
        {"patern": ""},
        {"pattern": "", "confined": False},
    ],
)
def test_a_malformed_parameter_declaration_is_refused(project, spec):
    profile = RunnerProfile(
        project=project, name="p", argv=["echo", "{{ x }}"], allowed_parameters={"x": spec}
    )
    with pytest.raises(
        ValidationError, match=re.escape('give {"pattern": "...", "unconfined": true}')
    ):
        profile.full_clean()


def test_an_unconfined_pattern_must_compile(project):
    profile = RunnerProfile(
        project=project,
        name="p",
        argv=["echo", "{{ x }}"],
        allowed_parameters={"x": {"pattern": "(", "unconfined": True}},
    )
    with pytest.raises(ValidationError, match="not a regular expression"):
        profile.full_clean()
