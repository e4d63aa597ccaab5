"""MANUAL cases: a person performs the steps, so the worker only announces them and lets go.

The engine moves the execution to awaiting_input (with the IB_MANUAL_TIMEOUT_SECONDS deadline that
the watchdog enforces); testers then record each step through
executions.services.manual.execution_record_manual_step, which completes the run when the last
step is in.
"""

from runners.base import RunResult, StepRecorder
from runners.context import RunContext


class ManualRunner:
    def run(self, ctx: RunContext, case, recorder: StepRecorder) -> RunResult:
        recorder.total(len(case.steps))
        if not case.steps:  # nobody could ever record it: a case with no steps cannot pass
            return RunResult(outcome="error", reason="The manual case has no steps to record.")
        return RunResult(outcome="", reason="waiting for a tester", awaiting_input=True)
