"""GENERIC cases: each step calls a registered action (http, browser, command, python, ...)."""

import contextlib

from django.utils import timezone

from executions.errors import InvalidTransition
from executions.models import ExecutionStatus
from executions.outcome import StepOutcome, StepStatus, step_record
from runners.base import (
    RunResult,
    StepRecorder,
    call_action,
    interrupted_outcome,
)
from runners.context import Cancelled, RunContext
from runners.registry import get_action


class GenericRunner:
    def run(self, ctx: RunContext, case, recorder: StepRecorder) -> RunResult:
        steps = case.steps  # the claim already told progress bars how many
        failures: list[str] = []
        broken: list[str] = []
        for order, step in enumerate(steps, start=1):
            name = step.get("name") or step["action"]
            last = order == len(steps)  # its record goes with the finish (StepRecorder)
            if (failures or broken) and not step.get("continue_on_failure"):
                recorder.record(_skipped(order, name, step), last=last)
                continue
            record = self._run_step(ctx, order, name, step, recorder, last=last)
            if record["status"] in StepStatus.FAILING:
                failures.append(
                    f"step {order} {name!r}: {(record['error'] or {}).get('message', '')}"
                )
            elif record["status"] in StepStatus.BROKEN:
                broken.append(
                    f"step {order} {name!r}: {(record['error'] or {}).get('message', '')}"
                )
        if failures:
            return RunResult(ExecutionStatus.FAILED, failures[0])
        if broken:
            return RunResult(ExecutionStatus.ERROR, broken[0])
        return RunResult(ExecutionStatus.PASSED, f"{len(steps)} steps passed")

    def _run_step(
        self, ctx, order: int, name: str, step: dict, recorder, *, last: bool = False
    ) -> dict:
        action = get_action(step["action"])
        started_at = timezone.now()
        params = ctx.render(step.get("params", {}))

        def record(outcome: StepOutcome, elapsed: float, *, last: bool = last) -> dict:
            return recorder.record(
                step_record(
                    order=order,
                    name=name,
                    kind=step["action"],
                    outcome=outcome,
                    started_at=started_at,
                    elapsed=elapsed,
                    input=params,
                    expected=step.get("expected"),
                ),
                last=last,
            )

        if action is None:
            outcome, elapsed = StepOutcome.failed(f"unknown action {step['action']!r}"), 0.0
            outcome.status = StepStatus.UNDEFINED
            return record(outcome, elapsed)
        timeout = ctx.step_timeout_for(step.get("timeout"))
        try:
            outcome, elapsed = call_action(ctx, action.run, params, name=name, timeout=timeout)
        except Cancelled as stop:
            interrupted = interrupted_outcome(stop)
            if interrupted is not None:
                # The trace shows the step the run stopped in, and why, not a step that vanished.
                # (If the reaper ended the run meanwhile its trace is closed: nothing to add.)
                with contextlib.suppress(InvalidTransition):
                    record(interrupted, (timezone.now() - started_at).total_seconds(), last=False)
            raise
        _capture(ctx, step.get("capture", {}), outcome)
        return record(outcome, elapsed)


def _skipped(order: int, name: str, step: dict) -> dict:
    outcome = StepOutcome(status=StepStatus.SKIPPED, actual="not run: an earlier step failed")
    return step_record(
        order=order,
        name=name,
        kind=step["action"],
        outcome=outcome,
        started_at=timezone.now(),
        elapsed=0.0,
        input=step.get("params"),
        expected=step.get("expected"),
    )


def _capture(ctx: RunContext, capture: dict, outcome: StepOutcome) -> None:
    """`capture: {"token": "json.token"}` takes a dotted path into what the step observed."""
    ctx.variables.update(outcome.captured)
    for variable, path in capture.items():
        current: object = outcome.actual
        for part in path.split("."):
            if isinstance(current, dict) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                current = None
                break
        if current is not None:
            ctx.variables[variable] = current
