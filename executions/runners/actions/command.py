"""The `command` action: run a maintainer-defined runner profile, never free text.

    {"action": "command", "params": {"profile": "sample-pytest", "vars": {"target": "."}}}

The profile (executions.models.RunnerProfile, one per project and name) holds the argv template,
working directory, environment, timeout and JUnit XML path; the step only fills in the profile's
whitelisted parameters (from `vars`, else from the run's variables), each checked against its
pattern. The process runs in its own process group, so a cancel, a timeout or the end of the step
kills it and everything it started. With a JUnit XML path, each test case in the file becomes a
child result attached to a catalog case by its key `classname.name`.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings

from executions.attachments import attachment_for_step
from executions.models import RunnerProfile
from executions.models.profiles import BUILTIN_PLACEHOLDERS
from executions.runners.context import RunContext
from executions.runners.junit_read import JunitError, junit_cases_from_file
from executions.runners.outcome import StepOutcome, StepStatus
from executions.runners.registry import action
from executions.runners.waiting import action_timeout
from executions.services.reported_cases import test_cases_for_reported

TAIL_CHARS = 8000
_POLL_SECONDS = 0.05
_CHILD_STATUS_ORDER = ("failed", "error")


def validate_command(params: dict) -> str | None:
    unknown = set(params) - {"profile", "vars"}
    if unknown:
        return f"'command' does not know {', '.join(sorted(unknown))}; give 'profile' and 'vars'."
    if not isinstance(params.get("profile"), str) or not params["profile"].strip():
        return "'command' needs 'profile': the name of one of the project's runner profiles."
    variables = params.get("vars", {})
    if not isinstance(variables, dict) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in variables.values()
    ):
        return "'vars' maps the profile's parameter names to text or numbers."
    return None


@action("command", validate=validate_command)
def run_command(ctx: RunContext, params: dict) -> StepOutcome:
    """Run a runner profile (an allow-listed command); its JUnit XML becomes per-test results."""
    profile = RunnerProfile.objects.filter(
        project_id=ctx.project_id, name=params["profile"]
    ).first()
    if profile is None:
        return _error(
            "UnknownProfile",
            f"This project has no runner profile {params['profile']!r}.",
            "A maintainer defines runner profiles in the admin (Executions > Runner profiles).",
        )
    values, problem = _parameter_values(ctx, profile, params.get("vars", {}))
    if problem:
        return _error(
            "InvalidParameter", problem, "Fix the step's 'vars' or the profile's patterns."
        )
    output_dir = tempfile.mkdtemp(prefix="ib-command-")
    try:
        return _run_profile(
            ctx, profile, {**values, "python": sys.executable, "output_dir": output_dir}
        )
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)


def _parameter_values(ctx: RunContext, profile: RunnerProfile, given: dict) -> tuple[dict, str]:
    values: dict[str, str] = {}
    for name, value in given.items():
        problem = profile.parameter_error(name, str(value))
        if problem:
            return {}, problem
        values[name] = str(value)
    for name in sorted(profile.placeholders() - set(BUILTIN_PLACEHOLDERS) - set(values)):
        if name not in ctx.variables:
            return {}, f"Profile {profile.name!r} needs parameter {name!r}; pass it in 'vars'."
        value = str(ctx.variables[name])
        problem = profile.parameter_error(name, value)
        if problem:
            return {}, problem
        values[name] = value
    return values, ""


def _working_dir(profile: RunnerProfile) -> Path:
    path = Path(profile.working_dir or ".")
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def _holds_uploads(cwd: Path) -> bool:
    """A command never runs where users' files are stored (or above them): a test runner there
    would collect or import what a tester uploaded. Stored names have no extension either
    (executions.attachments); this is the second wall."""
    cwd, media = cwd.resolve(), Path(settings.MEDIA_ROOT).resolve()
    return cwd.is_relative_to(media) or media.is_relative_to(cwd)


def _child_environment(env: dict[str, str], output_dir: str) -> dict[str, str]:
    """A small fresh environment: the worker's own holds secrets (DATABASE_URL, SECRET_KEY)."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", output_dir),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": output_dir,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        **env,
    }


class _ProcessGroup:
    """The process a step started and everything it started in turn (one process group).

    The leader is only reaped in `reap()`: until then its pid stays taken (a zombie at worst), so
    killing the group can never hit an unrelated process that got the pid afterwards, even when
    the watchdog's clean-up fires at the last moment."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self._lock = threading.Lock()
        self._reaped = False

    def exited(self) -> bool:
        try:
            found = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # already collected (SIGCHLD ignored by the host process)
            return True
        return found is not None

    def kill(self) -> None:
        with self._lock:
            if not self._reaped:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)

    def reap(self) -> int:
        """Kill what is left of the group (a server the command started in the background) and
        collect the leader's exit code."""
        with self._lock:
            if not self._reaped:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                self._reaped = True
        return self.process.returncode


def _run_profile(ctx: RunContext, profile: RunnerProfile, values: dict) -> StepOutcome:
    argv, env, junit_xml = profile.render(values)
    cwd = _working_dir(profile)
    if not cwd.is_dir():
        return _error("WorkingDirMissing", f"The working directory {cwd} does not exist.")
    if _holds_uploads(cwd):
        return _error(
            "WorkingDirRefused",
            f"The working directory {cwd} holds or lies in the stored uploads ({settings.MEDIA_ROOT}).",
            "Point the runner profile at a folder of the project.",
        )
    log_path = Path(values["output_dir"]) / "output.log"
    limit = float(profile.timeout_seconds)
    timeout = action_timeout(ctx, limit)
    started = time.monotonic()
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=_child_environment(env, values["output_dir"]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as a whole
            )
        except OSError as exc:
            return _error("CommandNotStarted", f"Could not start {argv[0]!r}: {exc}")

    group = _ProcessGroup(process)
    ctx.on_cleanup(group.kill)  # a cancel (watchdog thread) kills the group at once
    try:
        timed_out = _wait(ctx, group, timeout)
    finally:
        exit_code = group.reap()
        with contextlib.suppress(ValueError):
            ctx.cleanups.remove(group.kill)
    ctx.check_cancel()
    actual = {
        "profile": profile.name,
        "argv": argv,
        "working_dir": str(cwd),
        "exit_code": None if timed_out else exit_code,
        "duration_ms": round((time.monotonic() - started) * 1000),
        "output_tail": _tail(log_path),
    }
    if timed_out:
        outcome = _error(
            "CommandTimeout",
            f"{profile.name} ran longer than {timeout:g} s; its process group was killed.",
            "Raise the profile's timeout_seconds, or find out why the command hangs.",
        )
        outcome.actual = actual
    elif profile.junit_xml:
        outcome = _junit_outcome(ctx, profile, Path(cwd) / junit_xml, actual)
    elif exit_code == 0:
        outcome = StepOutcome(actual=actual)
    else:
        outcome = StepOutcome.failed(f"{profile.name} exited with code {exit_code}", actual=actual)
    if outcome.status != StepStatus.PASSED and log_path.stat().st_size:
        outcome.attachments.append(
            attachment_for_step(ctx, f"{profile.name}.log", log_path.read_bytes(), "text/plain")
        )
    return outcome


def _wait(ctx: RunContext, group: _ProcessGroup, timeout: float) -> bool:
    """Wait until the command exits, the run is stopped or `timeout` passes (True: timed out)."""
    give_up = time.monotonic() + timeout
    while not group.exited():
        if ctx.cancel.wait(_POLL_SECONDS):
            group.kill()
            return False
        if time.monotonic() > give_up:
            group.kill()
            return True
    return False


def _tail(log_path: Path) -> str:
    size = log_path.stat().st_size
    with open(log_path, "rb") as log:
        log.seek(max(0, size - TAIL_CHARS))
        text = log.read().decode("utf-8", "replace")
    return text if size <= TAIL_CHARS else f"[... {size - TAIL_CHARS} bytes before]\n{text}"


def _junit_outcome(
    ctx: RunContext, profile: RunnerProfile, path: Path, actual: dict
) -> StepOutcome:
    try:
        reported = junit_cases_from_file(path)
    except JunitError as exc:
        outcome = _error(
            "JunitMissing",
            f"{exc} (exit code {actual['exit_code']})",
            "Check the profile's junit_xml path and that the command writes it (see the output).",
        )
        outcome.actual = actual
        return outcome
    cases = test_cases_for_reported(
        ctx.project_id, reported, source=f"runner profile {profile.name}"
    )
    children = [
        {
            "key": r["key"],
            "name": r["name"],
            "status": r["status"],
            "duration_ms": r["duration_ms"],
            "message": r["message"],
            "case_id": cases[r["key"]].pk if r["key"] in cases else None,
        }
        for r in reported
    ]
    counts: dict[str, int] = {}
    for child in children:
        counts[child["status"]] = counts.get(child["status"], 0) + 1
    actual["tests"] = counts
    outcome = StepOutcome(actual=actual, children=children)
    for status in _CHILD_STATUS_ORDER:
        bad = [c for c in children if c["status"] == status]
        if bad:
            first = bad[0]
            outcome.status = StepStatus.FAILED if status == "failed" else StepStatus.ERROR
            outcome.error = {
                "type": "TestsFailed" if status == "failed" else "TestsErrored",
                "message": f"{len(bad)} of {len(children)} tests {status}: "
                f"{first['key']}: {first['message'][:300]}",
            }
            return outcome
    if actual["exit_code"] != 0:
        outcome.status = StepStatus.FAILED
        outcome.error = {
            "type": "AssertionError",
            "message": f"{profile.name} exited with code {actual['exit_code']} "
            f"although no test in its JUnit XML failed.",
        }
    return outcome


def _error(kind: str, message: str, suggestion: str = "") -> StepOutcome:
    error = {"type": kind, "message": message}
    if suggestion:
        error["suggestion"] = suggestion
    return StepOutcome(status=StepStatus.ERROR, error=error)
