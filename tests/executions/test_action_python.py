"""The `python` action: registered checks called with the step's arguments (built-ins for ports,
names and files; custom ones from IB_CHECK_MODULES), passing, failing and erroring."""

import socket

import pytest
from django.core.exceptions import ValidationError

from executions.models import ExecutionStatus
from runners import checks
from tests.executions.local_site import LocalSite, run_case
from tests.factories import TestCaseFactory

S = ExecutionStatus
pytestmark = pytest.mark.django_db


def check_case(project, check_name, /, **args):
    return TestCaseFactory(
        project=project,
        steps=[
            {"name": check_name, "action": "python", "params": {"check": check_name, "args": args}}
        ],
    )


def run_check(project, check_name, /, **args):
    execution, (step,) = run_case(check_case(project, check_name, **args))
    return execution, step


@pytest.fixture
def custom_checks(monkeypatch, settings):
    """Load tests/executions/sample_checks.py the way a deployment would: through the setting."""
    settings.IB_CHECK_MODULES = ["tests.executions.sample_checks"]
    monkeypatch.setattr(checks, "_loaded", False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on exit: nothing listens there


# --- tcp_port_open --------------------------------------------------------------------------


def test_tcp_port_open_passes_when_something_listens(project):
    with LocalSite() as site:
        execution, step = run_check(project, "tcp_port_open", host="127.0.0.1", port=site.port)

    assert execution.status == S.PASSED
    assert step["actual"]["open"] is True


def test_tcp_port_open_fails_when_nothing_listens(project):
    execution, step = run_check(project, "tcp_port_open", host="127.0.0.1", port=free_port())

    assert execution.status == S.FAILED
    assert step["status"] == "failed"
    assert step["error"]["message"].startswith("Nothing accepts connections on 127.0.0.1:")
    assert step["error"]["suggestion"]


def test_tcp_port_open_refuses_a_host_outside_the_allow_list(project):
    execution, step = run_check(project, "tcp_port_open", host="10.1.2.3", port=22)

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "HostNotAllowed"
    assert "'10.1.2.3'" in step["error"]["suggestion"]


# --- dns_resolves ---------------------------------------------------------------------------


def test_dns_resolves_localhost_to_loopback(project):
    execution, step = run_check(project, "dns_resolves", name="localhost", expect="127.0.0.1")

    assert execution.status == S.PASSED
    assert "127.0.0.1" in step["actual"]["addresses"]


def test_dns_resolves_fails_when_the_address_is_not_the_expected_one(project):
    execution, step = run_check(project, "dns_resolves", name="localhost", expect="10.9.9.9")

    assert execution.status == S.FAILED
    assert "not 10.9.9.9" in step["error"]["message"]


def test_dns_resolves_refuses_a_name_outside_the_allow_list(project):
    execution, step = run_check(project, "dns_resolves", name="internal.corp.example")

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "HostNotAllowed"


# --- file_contains --------------------------------------------------------------------------


@pytest.fixture
def files(settings, tmp_path):
    root = tmp_path / "checked"
    root.mkdir()
    (root / "app.log").write_text("started\nready on port 8000\n")
    (tmp_path / "secret.txt").write_text("password=hunter2")
    settings.IB_CHECK_FILE_ROOTS = [str(root)]
    return root


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ({"text": "ready on port"}, S.PASSED),
        ({"pattern": r"port \d{4}"}, S.PASSED),
        ({"text": "crashed"}, S.FAILED),
        ({"pattern": r"^error"}, S.FAILED),
    ],
)
def test_file_contains(project, files, args, status):
    execution, step = run_check(project, "file_contains", path="app.log", **args)
    assert execution.status == status, step["error"]


def test_file_contains_fails_for_a_missing_file(project, files):
    execution, step = run_check(project, "file_contains", path="nope.log", text="x")

    assert execution.status == S.FAILED
    assert step["error"]["message"].startswith("No file nope.log under ")


def test_file_contains_never_reads_outside_its_roots(project, files):
    execution, step = run_check(project, "file_contains", path="../secret.txt", text="hunter2")

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "PermissionError"
    assert "password=" not in str(step)  # nothing of the file's content reached the trace


def test_file_contains_is_off_without_roots(project, settings):
    settings.IB_CHECK_FILE_ROOTS = []
    execution, step = run_check(project, "file_contains", path="x", text="y")

    assert execution.status == S.ERROR
    assert "IB_CHECK_FILE_ROOTS" in step["error"]["message"]


# --- custom checks from IB_CHECK_MODULES ----------------------------------------------------


def test_a_custom_check_passes_and_records_what_it_returned(project, custom_checks):
    execution, step = run_check(project, "sample_is_even", number=4)

    assert execution.status == S.PASSED
    assert step["actual"] == {"number": 4, "even": True}


def test_a_custom_check_fails_with_its_message_and_suggestion(project, custom_checks):
    case = check_case(project, "sample_is_even", number="{{ n }}")
    execution, (step,) = run_case(case, parameters={"n": 7})

    assert execution.status == S.FAILED
    assert step["input"]["args"] == {"number": 7}  # a lone variable keeps its type
    assert step["error"] == {
        "type": "AssertionError",
        "message": "7 is odd",
        "suggestion": "Try 2.",
    }
    assert step["actual"] == {"number": 7}


def test_an_assertion_error_in_a_check_is_a_failure(project, custom_checks):
    execution, step = run_check(project, "sample_asserts", value="no")

    assert execution.status == S.FAILED
    assert step["error"]["message"] == "value is 'no'"


def test_any_other_exception_in_a_check_is_an_error(project, custom_checks):
    execution, step = run_check(project, "sample_crashes")

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "RuntimeError"
    assert "sample_checks.py" in step["error"]["traceback"]


# --- validation when a case is saved --------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"check": "no_such_check"}, "unknown check 'no_such_check'"),
        ({"check": "tcp_port_open", "args": {"host": "a"}}, "missing a required argument: 'port'"),
        (
            {"check": "tcp_port_open", "args": {"host": "a", "port": 1, "x": 1}},
            "unexpected keyword",
        ),
        ({"check": "tcp_port_open", "args": []}, "'args' must be an object"),
        ({"args": {}}, "needs 'check'"),
    ],
)
def test_bad_params_are_refused_when_the_case_is_saved(project, params, message):
    case = TestCaseFactory(project=project, steps=[{"action": "python", "params": params}])
    with pytest.raises(ValidationError, match=message):
        case.full_clean()
