"""The `defaults` action: variables a case falls back on when the run does not set them.

    {"action": "defaults", "params": {"values": {"base_url": "http://127.0.0.1:8000"}}}

Unlike `set`, a value given as a run parameter (or set by an earlier step) wins, so a case can
carry a working default (the demo's base_url) and still be pointed elsewhere per run.
"""

from executions.outcome import StepOutcome
from runners.context import RunContext
from runners.registry import action


def validate_defaults(params: dict) -> str | None:
    values = params.get("values")
    if not isinstance(values, dict) or not values:
        return "'defaults' needs 'values': an object of variable names to values."
    return None


@action("defaults", validate=validate_defaults)
def set_defaults(ctx: RunContext, params: dict) -> StepOutcome:
    """Set variables that the run's parameters and earlier steps left unset."""
    added = {k: v for k, v in ctx.render(params["values"]).items() if k not in ctx.variables}
    ctx.variables.update(added)
    kept = {k: ctx.variables[k] for k in params["values"] if k not in added}
    return StepOutcome(actual={"set": added, "kept": kept})
