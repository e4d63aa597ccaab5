"""What a command step (or a page in Chromium) can reach of the worker (security findings 2, 5).

Through a real qcluster worker whose environment holds a fake secret: a command step runs as the
command user with the documented environment, cannot read /proc/<worker>/environ, any other
environment holding the secret, or the SQLite database; a parameter pointing outside the
profile's working directory runs nothing. A worker SIGKILLed mid-step leaves nothing of the step
running. Chromium runs as the command user with the same small environment.
"""

import json
import os
import pwd
import signal
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from catalog.models import RunnerProfile
from executions.models import Execution, ExecutionStatus
from executions.services.people import execution_cancel
from runners.browser_session import BrowserSession
from runners.context import RunContext
from tests.executions.local_site import needs_browser, process_alive, run_case, steps_of
from tests.factories import TestCaseFactory, execution_for
from tests.live import live_env, qcluster, wait_until

S = ExecutionStatus
HERE = Path(__file__).parent
ENVIRONMENT = {
    "PATH",
    "HOME",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "IB_COMMAND_STEP",
}
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.geteuid() != 0, reason="commands change user only under a root worker"),
]


@pytest.fixture
def nobody():
    return pwd.getpwnam(settings.IB_COMMAND_USER)


def finished(execution_id: int) -> Execution | None:
    execution = Execution.objects.get(pk=execution_id)
    return execution if execution.is_terminal else None


def command_step(profile: str, variables: dict | None = None) -> dict:
    return {"action": "command", "params": {"profile": profile, "vars": variables or {}}}


@pytest.mark.live
def test_a_command_step_cannot_reach_the_worker_secrets(project, command_tmp, tmp_path, nobody):
    secret = f"fake-secret-{uuid.uuid4().hex}"
    sqlite = connection.settings_dict["NAME"] if not settings.IS_POSTGRES else ""
    RunnerProfile.objects.create(
        project=project,
        name="snoop",
        argv=["{{ python }}", str(HERE / "snoop.py"), secret, *([str(sqlite)] if sqlite else [])],
    )
    RunnerProfile.objects.create(
        project=project,
        name="sample-pytest",
        argv=["{{ python }}", "-m", "pytest", "-q", "-p", "no:cacheprovider", "{{ target }}"],
        allowed_parameters={"target": ""},
        working_dir="demo/sample_tests",
    )
    planted = command_tmp / "test_planted.py"
    planted.write_text(f"def test_planted():\n    open({str(command_tmp / 'ran')!r}, 'w')\n")
    snoop = execution_for(TestCaseFactory(project=project, steps=[command_step("snoop")]))
    escapes = [
        execution_for(
            TestCaseFactory(project=project, steps=[command_step("sample-pytest")]),
            parameters={"target": target},
        )
        for target in (str(planted), "../../../../../../../.." + str(planted))
    ]

    env = live_env(Q_WORKERS="1", IB_FAKE_SECRET=secret)
    with qcluster(env, tmp_path / "qcluster.log"):
        for execution in (snoop, *escapes):
            wait_until(lambda e=execution: finished(e.pk), timeout=60, what="the runs to end")

    snoop.refresh_from_db()
    (step,) = steps_of(snoop)
    assert snoop.status == S.PASSED, (
        step["error"],
        (tmp_path / "qcluster.log").read_text()[-2000:],
    )
    seen = json.loads(step["actual"]["output_tail"])
    worker_pid = int(snoop.attempts.get().worker.rsplit(":", 1)[1])
    assert seen["parent"] == worker_pid  # the worker started it
    assert (seen["uid"], seen["gid"], seen["groups"]) == (nobody.pw_uid, nobody.pw_gid, [])
    assert seen["parent_environ"] == "PermissionError"
    assert seen["environ_holding_secret"] == []
    assert set(seen["env"]) == ENVIRONMENT
    assert secret not in json.dumps(seen["env"])
    assert seen["env"]["HOME"] == seen["env"]["TMPDIR"]
    assert "/ib-command-" in seen["env"]["HOME"]
    if sqlite:
        assert seen["database"] == "PermissionError"
    for execution in escapes:
        execution.refresh_from_db()
        (refused,) = steps_of(execution)
        assert (execution.status, refused["error"]["type"]) == (S.ERROR, "InvalidParameter")
    assert not (command_tmp / "ran").exists()


@pytest.mark.live
def test_a_killed_worker_leaves_nothing_of_its_step_running(project, command_tmp, tmp_path):
    """The direct child dies with the worker (PDEATHSIG); the grandchild in a session of its own
    is killed by the replacement worker as it starts (its marker names a dead owner)."""
    RunnerProfile.objects.create(
        project=project,
        name="escaper",
        argv=["{{ python }}", str(HERE / "escaper.py"), str(command_tmp)],
    )
    case = TestCaseFactory(project=project, steps=[command_step("escaper")])

    with qcluster(live_env(Q_WORKERS="1"), tmp_path / "qcluster.log"):
        execution = execution_for(case)
        wait_until(
            lambda: (command_tmp / "pid").exists() and (command_tmp / "leader").exists(),
            timeout=60,
            what="the command and its grandchild to start",
        )
        leader, grandchild = (int((command_tmp / n).read_text()) for n in ("leader", "pid"))
        execution.refresh_from_db()
        os.kill(int(execution.worker.rsplit(":", 1)[1]), signal.SIGKILL)
        execution_cancel(execution.pk, reason="no second attempt")  # the reaper confirms it

        wait_until(
            lambda: not process_alive(leader) and not process_alive(grandchild),
            timeout=30,
            what="the step's processes to die",
        )
        beats = (command_tmp / "beat").stat().st_size
        wait_until(lambda: finished(execution.pk), timeout=30, what="the cancel to be confirmed")

    assert (command_tmp / "beat").stat().st_size == beats
    assert Execution.objects.get(pk=execution.pk).status == S.CANCELLED


@pytest.mark.browser
@needs_browser
def test_chromium_runs_as_the_command_user_without_the_worker_environment(monkeypatch, nobody):
    monkeypatch.setenv("IB_FAKE_SECRET", "fake-secret-for-chromium")
    session = BrowserSession(["127.0.0.1"])
    session.start(RunContext(execution_id=0, attempt_id=0, project_id=0))
    try:
        status = Path(f"/proc/{session.pid}/status").read_text()
        environ = Path(f"/proc/{session.pid}/environ").read_bytes()
    finally:
        session.close()

    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids == [str(nobody.pw_uid)] * 4
    assert b"fake-secret-for-chromium" not in environ
    assert b"DATABASE_URL" not in environ


def test_a_junit_file_linked_to_a_file_of_the_worker_is_not_read(project, tmp_path):
    """The worker (root) reads the JUnit XML back: a link to a file only root may read must not
    turn that into a read of it for the command."""
    private = tmp_path / "private.xml"  # in pytest's folder, closed to other accounts
    private.write_text('<testsuite><testcase classname="private" name="SECRET"/></testsuite>')
    private.chmod(0o600)
    RunnerProfile.objects.create(
        project=project,
        name="linker",
        argv=["ln", "-s", str(private), "{{ output_dir }}/junit.xml"],
        junit_xml="{{ output_dir }}/junit.xml",
    )
    case = TestCaseFactory(project=project, steps=[command_step("linker")])

    execution, (step,) = run_case(case)

    assert (execution.status, step["error"]["type"]) == (S.ERROR, "JunitMissing")
    assert "junit.xml was not read" in step["error"]["message"]
    assert "SECRET" not in json.dumps(step)
