"""Small built-in actions: set a variable, assert on one, wait."""

from executions.outcome import StepOutcome
from runners.context import RunContext
from runners.registry import action

_MAX_WAIT_SECONDS = 3600
_COMPARISONS = {
    "equals": lambda a, b: a == b,
    "not_equals": lambda a, b: a != b,
    "contains": lambda a, b: b in a if isinstance(a, str | list | dict) else False,
    "greater_than": lambda a, b: _num(a) > _num(b),
    "less_than": lambda a, b: _num(a) < _num(b),
}


def _num(value: object) -> float:
    return float(value)  # type: ignore[arg-type]


def _validate_set(params: dict) -> str | None:
    values = params.get("values")
    if not isinstance(values, dict) or not values:
        return "'set' needs 'values': an object of variable names to values."
    return None


@action("set", validate=_validate_set)
def set_variables(ctx: RunContext, params: dict) -> StepOutcome:
    """Set variables for the following steps."""
    values = ctx.render(params["values"])
    ctx.variables.update(values)
    return StepOutcome(actual=values, captured=values)


def _validate_assert(params: dict) -> str | None:
    if not isinstance(params.get("variable"), str):
        return "'assert' needs 'variable': the name of a variable."
    ops = set(params) & set(_COMPARISONS)
    if len(ops) != 1:
        return f"'assert' needs exactly one of {', '.join(_COMPARISONS)}."
    return None


@action("assert", validate=_validate_assert)
def assert_variable(ctx: RunContext, params: dict) -> StepOutcome:
    """Compare a variable with a value (equals, not_equals, contains, greater_than, less_than)."""
    name = params["variable"]
    if name not in ctx.variables:
        return StepOutcome.failed(
            f"variable {name!r} is not set",
            suggestion="Set it with a 'set' step or capture it from an earlier step.",
        )
    actual = ctx.variables[name]
    (op,) = set(params) & set(_COMPARISONS)
    expected = ctx.render(params[op])
    try:
        ok = _COMPARISONS[op](actual, expected)
    except (TypeError, ValueError):
        ok = False
    if ok:
        return StepOutcome(actual=actual)
    return StepOutcome.failed(f"{name} = {actual!r}; expected {op} {expected!r}", actual=actual)


def _validate_wait(params: dict) -> str | None:
    seconds = params.get("seconds")
    if not isinstance(seconds, int | float) or not 0 <= seconds <= _MAX_WAIT_SECONDS:
        return f"'wait' needs 'seconds' between 0 and {_MAX_WAIT_SECONDS}."
    return None


@action("wait", validate=_validate_wait)
def wait(ctx: RunContext, params: dict) -> StepOutcome:
    """Wait a number of seconds (wakes up at once on cancel)."""
    ctx.sleep(float(params["seconds"]))
    return StepOutcome(actual={"waited_seconds": params["seconds"]})
