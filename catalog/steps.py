"""Validation of a test case's content (its steps or its Gherkin feature).

Called from TestCase.clean() and from the API serializers, so the admin and the API give the same
messages. What only the runners understand (an action's parameters, the Gherkin grammar) is
checked by functions the runners app registers when it is ready (runners.apps): the catalog sits
below the runners and cannot import them.
"""

from collections.abc import Callable

from django.core.exceptions import ValidationError

from catalog.models.choices import CaseType

MAX_STEPS = 10_000
_MANUAL_KEYS = {"name", "instruction", "expected", "data"}
_GENERIC_KEYS = {
    "name",
    "action",
    "params",
    "expected",
    "capture",
    "timeout",
    "continue_on_failure",
}


def validate_case_content(
    case_type: str, steps: object, feature: str, *, project_id: int | None = None
) -> None:
    """`project_id` (when known) lets an action check a step against the project's settings."""
    if not isinstance(steps, list):
        raise ValidationError({"steps": "Steps must be a list."})
    if len(steps) > MAX_STEPS:
        raise ValidationError({"steps": f"At most {MAX_STEPS} steps per case."})
    if case_type == CaseType.GENERIC:
        if feature:
            raise ValidationError({"feature": "Only BDD cases have a Gherkin feature."})
        errors = [_generic_step_errors(s, project_id) for s in steps]
    elif case_type == CaseType.MANUAL:
        if feature:
            raise ValidationError({"feature": "Only BDD cases have a Gherkin feature."})
        errors = [_manual_step_errors(s) for s in steps]
    elif case_type == CaseType.BDD:
        if steps:
            raise ValidationError(
                {"steps": "A BDD case's steps come from its feature; leave empty."}
            )
        _validate_feature(feature)
        return
    else:
        raise ValidationError({"type": f"Unknown case type {case_type!r}."})
    messages = [f"step {i + 1}: {e}" for i, e in enumerate(errors) if e]
    if messages:
        raise ValidationError({"steps": messages})


class _Checks:
    """Set once by runners.apps.RunnersConfig.ready()."""

    action_params: Callable[..., str | None] | None = None
    feature: Callable[[str], str | None] | None = None


def register_content_checks(
    *, action_params: Callable[..., str | None], feature: Callable[[str], str | None]
) -> None:
    """`action_params(action, params, project_id=...)` and `feature(text)` return a problem as
    text, or None when all is well."""
    _Checks.action_params = action_params
    _Checks.feature = feature


def _checks() -> type[_Checks]:
    if _Checks.action_params is None or _Checks.feature is None:
        raise RuntimeError("the runners app is not installed or not ready: no step checks")
    return _Checks


def _generic_step_errors(step: object, project_id: int | None) -> str | None:
    if not isinstance(step, dict):
        return "each step is an object like {'action': 'http', 'params': {...}}."
    unknown = set(step) - _GENERIC_KEYS
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}."
    action = step.get("action")
    if not isinstance(action, str) or not action:
        return "'action' is required."
    params = step.get("params", {})
    if not isinstance(params, dict):
        return "'params' must be an object."
    if "name" in step and not isinstance(step["name"], str):
        return "'name' must be text."
    capture = step.get("capture", {})
    if not isinstance(capture, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in capture.items()
    ):
        return "'capture' maps variable names to expressions (text)."
    timeout = step.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or not 0 < timeout <= 86400):
        return "'timeout' is a number of seconds between 0 and 86400."
    return _checks().action_params(action, params, project_id=project_id)


def _manual_step_errors(step: object) -> str | None:
    if not isinstance(step, dict):
        return "each manual step is an object like {'instruction': '...', 'expected': '...'}."
    unknown = set(step) - _MANUAL_KEYS
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}."
    if not isinstance(step.get("instruction"), str) or not step["instruction"].strip():
        return "'instruction' is required."
    if "expected" in step and not isinstance(step["expected"], str):
        return "'expected' must be text."
    return None


def _validate_feature(feature: str) -> None:
    if not feature or not feature.strip():
        raise ValidationError({"feature": "A BDD case needs a Gherkin feature."})
    problem = _checks().feature(feature)
    if problem:
        raise ValidationError({"feature": problem})
