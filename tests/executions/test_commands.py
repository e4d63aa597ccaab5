"""Management commands: run (with --wait exit codes), rerun, cancel, reap."""

import io

import pytest
from django.core.management import CommandError, call_command

from executions.models import Execution, ExecutionStatus, Trigger
from tests.factories import execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db(transaction=True)


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_run_wait_here_exits_zero_when_passed(case):
    code, _out, err = run_command(
        "run", "--project", case.project.slug, "--case", case.key, "--wait", "--here"
    )

    assert code == 0
    execution = Execution.objects.get()
    assert execution.status == S.PASSED
    assert execution.trigger == Trigger.COMMAND
    assert "2/2 steps" in err  # the progress bar reached the end


def test_run_wait_here_exits_one_when_failed(failing_case):
    code, out, _ = run_command(
        "run",
        "--project",
        failing_case.project.slug,
        "--case",
        failing_case.key,
        "--wait",
        "--here",
    )

    assert code == 1
    assert "failed" in out


def test_run_suite_with_labels_and_params(make_suite, case, failing_case):
    suite = make_suite(case, failing_case)

    code, _, err = run_command(
        "run",
        "--project",
        case.project.slug,
        "--suite",
        suite.name,
        "--label",
        "env=ci",
        "--param",
        "base_url=http://127.0.0.1:9",
        "--wait",
        "--here",
    )

    parent = Execution.objects.get(parent__isnull=True)
    assert code == 1
    assert parent.labels == {"env": "ci"}
    assert parent.children.count() == 2
    assert "2/2 cases" in err


def test_run_unknown_case_is_an_error(project):
    with pytest.raises(CommandError, match="No test case"):
        call_command("run", "--project", project.slug, "--case", "nope")


def test_run_bad_param_is_an_error(case):
    with pytest.raises(CommandError, match="key=value"):
        call_command(
            "run", "--project", case.project.slug, "--case", case.key, "--param", "novalue"
        )


def test_cancel_command_cancels_queued(case):
    execution = execution_for(case)

    code, _out, _ = run_command("cancel", str(execution.pk))

    execution.refresh_from_db()
    assert code == 0
    assert execution.status == S.CANCELLED


def test_cancel_command_reports_finished_ones(case):
    execution = execution_for(case)
    run_command("cancel", str(execution.pk))

    with pytest.raises(CommandError):
        call_command("cancel", str(execution.pk), stdout=io.StringIO(), stderr=io.StringIO())


def test_rerun_failed_only_command(make_suite, case, failing_case):
    suite = make_suite(case, failing_case)
    run_command("run", "--project", case.project.slug, "--suite", suite.name, "--wait", "--here")
    parent = Execution.objects.get(parent__isnull=True)

    code, _, _ = run_command("rerun", str(parent.pk), "--failed-only", "--wait", "--here")

    assert code == 1
    passing_child = parent.children.get(test_case=case)
    failing_child = parent.children.get(test_case=failing_case)
    assert passing_child.attempt_count == 1
    assert failing_child.attempt_count == 2


def test_reap_command_prints_what_it_did(case):
    code, out, _ = run_command("reap")
    assert code == 0
    assert "recovered=0" in out
