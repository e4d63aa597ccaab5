"""The `command` action: run a maintainer-defined runner profile, never free text.

    {"action": "command", "params": {"profile": "sample-pytest", "vars": {"target": "."}}}

The profile (executions.models.RunnerProfile, one per project and name) holds the argv template,
working directory, environment, timeout and JUnit XML path; the step only fills in the profile's
whitelisted parameters (from `vars`, else from the run's variables), each checked against its
pattern and kept inside the profile's working directory (RunnerProfile.parameter_error), when
the case is saved and again here. The command runs as the command user (command_user.py) with a
fresh environment; a cancel, a timeout or the end of the step kills it and everything it
started, sessions of their own included (processes.py). With a JUnit XML path, the file is read
with the results app's reader and each test case in it becomes a child result attached to a
catalog case by its key (results.junit.case_key): the case an upload of the same test finds.
"""

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from catalog.models import CaseOrigin, RunnerProfile
from catalog.models.profiles import BUILTIN_PLACEHOLDERS, PLACEHOLDER
from executions.attachments import attachment_for_step
from executions.outcome import StepOutcome, StepStatus
from results.errors import ResultsError
from results.junit import MAX_IN_MEMORY_BYTES, ParsedCase, junit_cases_from_bytes
from results.reported_cases import reported_cases_find_or_create
from runners.command_user import (
    CommandUser,
    CommandUserError,
    child_environment,
    command_user,
    hand_over,
    popen_identity,
    read_written_file,
)
from runners.context import RunContext
from runners.processes import StepProcesses
from runners.registry import action
from runners.waiting import action_timeout

TAIL_CHARS = 8000
_POLL_SECONDS = 0.05
_CHILD_STATUS_ORDER = ("failed", "error")
_JUNIT_HINT = "Check the profile's junit_xml path and that the command writes it (see the output)."


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


def validate_command_in_project(project_id: int, params: dict) -> str | None:
    """The step's own values against its profile, when the case is saved (a 400, a form error).
    A value with a {{ variable }} is only known when the run starts: it is checked then."""
    profile = RunnerProfile.objects.filter(project_id=project_id, name=params["profile"]).first()
    if profile is None:  # may be defined later; running without it is an UnknownProfile error
        return None
    for name, value in params.get("vars", {}).items():
        text = str(value)
        problem = None if PLACEHOLDER.search(text) else profile.parameter_error(name, text)
        if problem:
            return problem
    return None


@action("command", validate=validate_command, validate_in_project=validate_command_in_project)
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
    try:
        user = command_user()
    except CommandUserError as exc:
        return _error("CommandUserMissing", str(exc), "Create the account or fix the setting.")
    output_dir = tempfile.mkdtemp(prefix="ib-command-")
    try:
        hand_over(output_dir, user)
        values = {**values, "python": sys.executable, "output_dir": output_dir}
        return _run_profile(ctx, profile, values, user)
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
    return values, profile.joined_parameters_error(values) or ""


def _holds_uploads(cwd: Path) -> bool:
    """A command never runs where users' files are stored (or above them): a test runner there
    would collect or import what a tester uploaded. Stored names have no extension either
    (executions.attachments); this is the second wall."""
    cwd, media = cwd.resolve(), Path(settings.MEDIA_ROOT).resolve()
    return cwd.is_relative_to(media) or media.is_relative_to(cwd)


def _run_profile(
    ctx: RunContext, profile: RunnerProfile, values: dict, user: CommandUser | None
) -> StepOutcome:
    argv, env, junit_xml = profile.render(values)
    cwd = profile.working_path()
    if not cwd.is_dir():
        return _error("WorkingDirMissing", f"The working directory {cwd} does not exist.")
    if _holds_uploads(cwd):
        return _error(
            "WorkingDirRefused",
            f"The working directory {cwd} holds or lies in the stored uploads ({settings.MEDIA_ROOT}).",
            "Point the runner profile at a folder of the project.",
        )
    # The output goes to a file with no name, so the command cannot swap it for a link to
    # something of the worker's that the step would then attach.
    with tempfile.TemporaryFile() as log:
        return _run_logged(ctx, profile, (argv, env, junit_xml), cwd, values, user, log)


def _run_logged(
    ctx: RunContext,
    profile: RunnerProfile,
    rendered: tuple[list[str], dict[str, str], str],
    cwd: Path,
    values: dict,
    user: CommandUser | None,
    log: BinaryIO,
) -> StepOutcome:
    argv, env, junit_xml = rendered
    timeout = action_timeout(ctx, float(profile.timeout_seconds))
    started = time.monotonic()
    processes = StepProcesses()
    try:
        processes.start(
            argv,
            cwd=cwd,
            env=child_environment(values["output_dir"], user, env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **popen_identity(user),
        )
    except OSError as exc:
        hint = f" (it runs as {user.name}: can that account read it?)" if user else ""
        return _error("CommandNotStarted", f"Could not start {argv[0]!r}{hint}: {exc}")

    ctx.on_cleanup(processes.kill)  # a cancel (watchdog thread) kills them at once
    try:
        timed_out = _wait(ctx, processes, timeout)
    finally:
        exit_code = processes.reap()
        with contextlib.suppress(ValueError):
            ctx.cleanups.remove(processes.kill)
    ctx.check_cancel()
    actual = {
        "profile": profile.name,
        "argv": argv,
        "working_dir": str(cwd),
        "exit_code": None if timed_out else exit_code,
        "duration_ms": round((time.monotonic() - started) * 1000),
        "output_tail": _tail(log),
    }
    if timed_out:
        outcome = _error(
            "CommandTimeout",
            f"{profile.name} ran longer than {timeout:g} s; it was killed with all it started.",
            "Raise the profile's timeout_seconds, or find out why the command hangs.",
        )
        outcome.actual = actual
    elif profile.junit_xml:
        outcome = _junit_outcome(ctx, profile, Path(cwd) / junit_xml, user, actual)
    elif exit_code == 0:
        outcome = StepOutcome(actual=actual)
    else:
        outcome = StepOutcome.failed(f"{profile.name} exited with code {exit_code}", actual=actual)
    if outcome.status != StepStatus.PASSED and log.seek(0, 2) > 0:
        log.seek(0)
        outcome.attachments.append(
            attachment_for_step(ctx, f"{profile.name}.log", log.read(), "text/plain")
        )
    return outcome


def _wait(ctx: RunContext, processes: StepProcesses, timeout: float) -> bool:
    """Wait until the command exits, the run is stopped or `timeout` passes (True: timed out)."""
    give_up = time.monotonic() + timeout
    while not processes.exited():
        if ctx.cancel.wait(_POLL_SECONDS):
            processes.kill()
            return False
        if time.monotonic() > give_up:
            processes.kill()
            return True
    return False


def _tail(log: BinaryIO) -> str:
    size = log.seek(0, 2)
    log.seek(max(0, size - TAIL_CHARS))
    text = log.read().decode("utf-8", "replace")
    return text if size <= TAIL_CHARS else f"[... {size - TAIL_CHARS} bytes before]\n{text}"


def _junit_outcome(
    ctx: RunContext, profile: RunnerProfile, path: Path, user: CommandUser | None, actual: dict
) -> StepOutcome:
    reported, problem = _read_junit(path, user)
    if problem is not None:
        problem.error["message"] += f" (exit code {actual['exit_code']})"
        problem.actual = actual
        return problem
    ids, _ = reported_cases_find_or_create(
        ctx.project_id,
        reported,
        source=f"runner profile {profile.name}",
        origin=CaseOrigin.REPORTED,
    )
    children = [
        {
            "key": r.key,
            "name": r.name,
            "status": str(r.outcome),
            "duration_ms": r.duration_ms,
            "message": r.message,
            "case_id": ids.get(r.key),
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


def _read_junit(
    path: Path, user: CommandUser | None
) -> tuple[list[ParsedCase], StepOutcome | None]:
    """The testcases of the file the command wrote, or the step's error: a file that is missing
    or was not read is JunitMissing, one that is not JUnit (or is hostile, or too big) is
    JunitInvalid. Neither is the worker's problem: the step records it and the run goes on."""
    try:
        data = read_written_file(path, user, MAX_IN_MEMORY_BYTES)
    except FileNotFoundError:
        return [], _error("JunitMissing", f"No JUnit XML file at {path}.", _JUNIT_HINT)
    except (OSError, ValueError) as exc:
        return [], _error("JunitMissing", f"{path.name} was not read: {exc}", _JUNIT_HINT)
    try:
        return junit_cases_from_bytes(data), None
    except ResultsError as exc:
        return [], _error("JunitInvalid", f"{path.name}: {exc.message}", _JUNIT_HINT)


def _error(kind: str, message: str, suggestion: str = "") -> StepOutcome:
    error = {"type": kind, "message": message}
    if suggestion:
        error["suggestion"] = suggestion
    return StepOutcome(status=StepStatus.ERROR, error=error)
