"""A step cannot reach what the engine started for another run: the DevTools port of another
run's Chromium (whoever reaches it drives that browser: an outsider closed another project's page
and made its run end in error, with nothing but two http steps), nor anything else another run's
command listens on. Real Chromium, real engine, real sockets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from executions.models import ExecutionStatus
from runners.browser_session import BrowserSession
from runners.command_user import command_user
from runners.context import RunContext
from tests.executions.local_site import needs_browser, run_case
from tests.factories import TestCaseFactory
from tests.live import wait_until

S = ExecutionStatus
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(os.geteuid() != 0, reason="another run is told apart by the command user"),
]


def http_case(project, url: str):
    return TestCaseFactory(
        project=project, steps=[{"name": "peek", "action": "http", "params": {"url": url}}]
    )


@pytest.mark.browser
@needs_browser
def test_a_step_cannot_reach_another_runs_browser(other_project):
    session = BrowserSession(["127.0.0.1"])  # another project's run, mid-way
    session.start(RunContext(execution_id=0, attempt_id=0, project_id=0))
    try:
        port = (Path(session._profile_dir) / "DevToolsActivePort").read_text().split()[0]
        execution, (step,) = run_case(
            http_case(other_project, f"http://127.0.0.1:{port}/json/list")
        )
        still_open = session.call(
            RunContext(execution_id=0, attempt_id=0, project_id=0), lambda page: page.url, timeout=5
        )
    finally:
        session.close()

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "HostNotAllowed"
    assert "belongs to another run" in step["error"]["message"]
    assert still_open == "about:blank"


def test_a_step_cannot_reach_what_another_runs_command_listens_on(project):
    user = command_user()
    listener = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.create_server(('127.0.0.1', 0)); print(s.getsockname()[1], flush=True)\n"
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        user=user.uid,
        group=user.gid,
        extra_groups=[],
    )
    try:
        port = int(listener.stdout.readline())
        _, (step,) = run_case(http_case(project, f"http://127.0.0.1:{port}/"))
    finally:
        listener.kill()
        listener.wait()

    assert step["error"]["type"] == "HostNotAllowed"
    assert f"127.0.0.1:{port} belongs to another run" in step["error"]["message"]


def test_the_apps_own_loopback_ports_stay_reachable(project):
    """Control: a loopback server of the worker's own user (the app itself, the demo's pages)
    is still allowed, so the refusals above are about whose port it is."""
    from tests.executions.local_site import LocalSite

    with LocalSite() as site:
        execution, (step,) = run_case(http_case(project, site.url("/json")))
    assert execution.status == S.PASSED, step["error"]


@pytest.mark.browser
@needs_browser
def test_chromium_dies_with_a_killed_worker(tmp_path):
    """A worker SIGKILLed during a browser step runs no clean-up: its Chromium must not run on."""
    script = (
        "import django, os, sys, time\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'intellibrowse.settings'\n"
        "django.setup()\n"
        "from runners.browser_session import BrowserSession\n"
        "from runners.context import RunContext\n"
        "s = BrowserSession(['127.0.0.1'])\n"
        "s.start(RunContext(execution_id=0, attempt_id=0, project_id=0))\n"
        "print(s.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    try:
        chromium = int(worker.stdout.readline())
        mark = f"ib-chromium-{worker.pid}-".encode()
        assert _processes_with(mark)
        worker.kill()
        worker.wait()
        wait_until(lambda: not _processes_with(mark), timeout=10, what="Chromium to die")
    finally:
        worker.kill()
    assert not Path(f"/proc/{chromium}").exists() or _is_zombie(chromium)


def _processes_with(mark: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark in (entry / "cmdline").read_bytes() and not _is_zombie(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True
