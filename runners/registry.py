"""Registries: one runner per case type, one action per step kind.

An action is a callable `run(ctx, params) -> StepOutcome`, registered with `@action("name")`. Its
optional `validate(params) -> str | None` is called when a case is saved, so a bad step is a 400 at
authoring time, not a failure at run time; `validate_in_project(project_id, params)` then checks what
depends on the project's own settings (a runner profile's parameters). Third-party actions register
the same way from a module listed in the IB_ACTION_MODULES setting.
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings


@dataclass(frozen=True)
class Action:
    name: str
    run: Callable
    validate: Callable[[dict], str | None] | None = None
    description: str = ""
    validate_in_project: Callable[[int, dict], str | None] | None = None


_ACTIONS: dict[str, Action] = {}
_loaded = False


def action(
    name: str,
    *,
    validate: Callable[[dict], str | None] | None = None,
    validate_in_project: Callable[[int, dict], str | None] | None = None,
):
    """Decorator: register `func` as the step action `name`."""

    def register(func: Callable) -> Callable:
        description = (func.__doc__ or "").strip().split("\n")[0]
        _ACTIONS[name] = Action(name, func, validate, description, validate_in_project)
        return func

    return register


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in ["runners.actions", *getattr(settings, "IB_ACTION_MODULES", [])]:
        import_module(module)


def get_action(name: str) -> Action | None:
    _load()
    return _ACTIONS.get(name)


def all_actions() -> dict[str, Action]:
    _load()
    return dict(_ACTIONS)


def action_param_errors(name: str, params: dict, *, project_id: int | None = None) -> str | None:
    found = get_action(name)
    if found is None:
        known = ", ".join(sorted(all_actions()))
        return f"unknown action {name!r}; known actions: {known}."
    problem = found.validate(params) if found.validate else None
    if problem is None and project_id is not None and found.validate_in_project:
        problem = found.validate_in_project(project_id, params)
    return problem


# --- runners, one per case type -------------------------------------------------------------

_RUNNERS = {
    "generic": "runners.generic.GenericRunner",
    "bdd": "runners.bdd.BddRunner",
    "manual": "runners.manual.ManualRunner",
}


def runner_for(case_type: str):
    """An instance of the runner for a case type (overridable with the IB_RUNNERS setting)."""
    path = {**_RUNNERS, **getattr(settings, "IB_RUNNERS", {})}.get(case_type)
    if path is None:
        raise LookupError(f"no runner for case type {case_type!r}")
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)()
