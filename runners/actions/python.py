"""The `python` action: call a registered check function with the step's arguments.

    {"action": "python", "params": {"check": "tcp_port_open", "args": {"host": "127.0.0.1", "port": 8000}}}

Checks live in runners.checks (built-ins) and in the modules of IB_CHECK_MODULES.
"""

from executions.outcome import StepOutcome, StepStatus
from runners.allowlist import HostNotAllowed, blocked_outcome
from runners.checks import CheckFailed, check_arguments_error, get_check
from runners.context import RunContext
from runners.registry import action


def validate_python(params: dict) -> str | None:
    unknown = set(params) - {"check", "args"}
    if unknown:
        return f"'python' does not know {', '.join(sorted(unknown))}; give 'check' and 'args'."
    if not isinstance(params.get("check"), str):
        return "'python' needs 'check': the name of a registered check."
    args = params.get("args", {})
    if not isinstance(args, dict):
        return "'args' must be an object of argument names to values."
    return check_arguments_error(params["check"], args)


@action("python", validate=validate_python)
def run_check(ctx: RunContext, params: dict) -> StepOutcome:
    """Call a registered Python check (see runners.checks)."""
    found = get_check(params["check"])
    if found is None:
        return StepOutcome(
            status=StepStatus.UNDEFINED,
            error={
                "type": "UnknownCheck",
                "message": f"No check named {params['check']!r} is registered.",
                "suggestion": "Register it with @check(...) in a module listed in IB_CHECK_MODULES.",
            },
        )
    try:
        observed = found.func(ctx, **params.get("args", {}))
    except CheckFailed as failed:
        return StepOutcome.failed(
            failed.message, actual=failed.actual, suggestion=failed.suggestion
        )
    except AssertionError as exc:
        return StepOutcome.failed(str(exc) or "assertion failed")
    except HostNotAllowed as exc:
        return blocked_outcome(str(exc), exc.host)
    return StepOutcome(actual=observed)
