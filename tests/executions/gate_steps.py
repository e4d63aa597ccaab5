"""A step that waits at a gate the test opens: loaded by the live workers of test_frozen_worker.py
(IB_STEP_MODULES and IB_CHECK_MODULES), so a test decides when a run may go on instead of
guessing how long it takes.

The step first leaves `arrived-<attempt number>` in the gate's folder (the test knows which
attempt got there), then waits, waking on cancel, until the file `open` appears."""

from pathlib import Path

from runners.checks import check
from runners.stepdefs import step


def _wait_at_gate(ctx, folder: str) -> dict:
    gate = Path(folder)
    attempt = ctx.variables["attempt_number"]
    (gate / f"arrived-{attempt}").touch()
    while not (gate / "open").exists():
        ctx.sleep(0.05)  # raises Cancelled as soon as the run is stopped
    return {"attempt": attempt}


@step("the gate at {string} opens")
def gate_opens(ctx, folder):
    _wait_at_gate(ctx, folder)


@check("gate_opens")
def gate_check(ctx, *, folder: str) -> dict:
    return _wait_at_gate(ctx, folder)
